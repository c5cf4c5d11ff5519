"""Issue 16, "authority that is not protected": who launched a run, and who may administer.

The trainer of a run is the person the launcher authenticated and recorded in the audit log for
that run, never ``$SAMDOPS_ACTOR`` (or ``$USER``); separation of duties holds on that identity.
The last user administrator cannot be disabled, ``svc:`` and ``os:`` ids cannot be taken by
users, and ``audit export`` escapes every stored value it shows.
"""

from __future__ import annotations

import io
import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Source, SourceKind, Target
from samdops.cli import main
from samdops.config import default_config_path, load_config
from samdops.errors import AccessDenied, VerificationError
from samdops.governance.identity import UserDirectory, UserKind
from samdops.governance.launch import (
    LAUNCH_KIND,
    Launcher,
    launched_by,
    os_launcher,
    record_launch,
    sign_in,
)
from samdops.governance.lifecycle import State
from samdops.governance.roles import Permission, Role
from samdops.governance.service import GovernedRegistry
from samdops.governance.signatures import Meaning
from samdops.steps.inprocess import run_training_in_process
from tests.cli_helpers import cli_in_process as _cli
from tests.conftest import PIMA_CSV, PIMA_SHA256
from tests.fake_kfp import FakeKfp, serve
from tests.governed import PASSWORDS, model_fields, staffed_registry

PW = {
    "admin": "admin-password-1",
    "alice": "engineer-and-reviewer",
    "quinn": "reviewer-password",
    "bot": "service-password",
}


@pytest.fixture
def gov(home: Path) -> GovernedRegistry:
    """An administrator; alice may both train (ml-engineer) and review (qa-reviewer)."""
    registry = GovernedRegistry(home, sinks=[])
    users = registry.users
    users.bootstrap_admin("admin", "Ada Admin", PW["admin"])
    admin = users.authenticate("admin", PW["admin"])
    people = {
        "alice": ({Role.ML_ENGINEER, Role.QA_REVIEWER}, UserKind.PERSON),
        "quinn": ({Role.QA_REVIEWER}, UserKind.PERSON),
        "bot": ({Role.ML_ENGINEER}, UserKind.SERVICE),
    }
    for user_id, (roles, kind) in people.items():
        users.add(admin, user_id, user_id.title(), roles, kind=kind, temporary_password="t" * 12)
        users.change_password(user_id, "t" * 12, PW[user_id])
    return registry


def _impersonate(monkeypatch: pytest.MonkeyPatch, name: str = "nobody-else") -> None:
    """Every variable that once named, or could name, the person who started a run."""
    for variable in ("SAMDOPS_ACTOR", "USER", "LOGNAME", "USERNAME"):
        monkeypatch.setenv(variable, name)


# -- the trainer is who the launcher authenticated ---------------------------------------------


def test_an_actor_variable_does_not_let_the_launcher_review_their_own_model(
    gov: GovernedRegistry,
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _impersonate(monkeypatch)  # SAMDOPS_ACTOR=nobody-else samdops run train --user alice
    launcher = sign_in(
        UserDirectory(home), "alice", PW["alice"], permission=Permission.REGISTER_MODEL
    )
    record = run_training_in_process(
        load_config(default_config_path()),
        data=PIMA_CSV,
        data_sha256=PIMA_SHA256,
        state=home,
        workdir=tmp_path / "work",
        launcher=launcher,
    )
    assert record.document["trained_by"] == "alice"
    run = record.document["lineage"]["pipeline_run"]
    assert launched_by(gov.audit.entries(), run) == Actor("alice", AuthMethod.PASSWORD)

    sign = ["sign", record.id, "--meaning", "review", "--user", "alice", "--password-stdin"]
    status, out, err = _cli(capsys, monkeypatch, PW["alice"] + "\n", *sign)
    assert (status, out, err) == (
        2,
        "",
        f"samdops: error: alice trained or registered {record.id} and cannot review it "
        "(separation of duties)\n",
    )
    denied = list(gov.audit.entries())[-1].event
    assert (denied.actor.id, denied.outcome.value) == ("alice", "denied")
    assert GovernedRegistry(home, sinks=[]).get(record.id).state == State.VALIDATED
    # Someone else may review it: the refusal is separation of duties, not a broken record.
    reviewed = gov.sign(record.id, Meaning.REVIEW, "quinn", PW["quinn"])
    assert reviewed.state == State.REVIEWED


def test_a_run_without_sign_in_is_refused_once_there_are_users(
    gov: GovernedRegistry,
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _impersonate(monkeypatch, "alice")
    before = len(gov.audit)
    status, _, err = _cli(capsys, monkeypatch, "", "run", "train")
    assert (status, err) == (
        2,
        "samdops: error: this state location has users: sign in to launch a run "
        "(--user ID --password-stdin)\n",
    )
    assert not (home / "runs").exists()  # refused before the run's directory exists
    assert len(GovernedRegistry(home, sinks=[]).audit) == before  # and no launch recorded


@pytest.mark.parametrize(
    ("user", "password", "error"),
    [
        ("quinn", PW["quinn"], "user 'quinn' (roles: qa-reviewer) may not register-model; "
         "ask a user whose role grants it"),
        ("bot", PW["bot"], "bot is a service account; a person launches a run"),
        ("alice", "wrong-password-1", "authentication failed for 'alice'; 2 attempt(s) left"),
    ],
)  # fmt: skip
def test_a_launcher_who_cannot_train_is_refused_before_the_run(
    gov: GovernedRegistry,
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    user: str,
    password: str,
    error: str,
) -> None:
    argv = ["run", "train", "--user", user, "--password-stdin"]
    status, _, err = _cli(capsys, monkeypatch, password + "\n", *argv)
    assert (status, err) == (2, f"samdops: error: {error}\n")
    assert not (home / "runs").exists()
    kinds = {
        r.event.detail_map().get("kind") for r in GovernedRegistry(home, sinks=[]).audit.entries()
    }
    assert LAUNCH_KIND not in kinds


def test_without_users_the_os_account_is_recorded_from_the_uid_not_the_environment(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _impersonate(monkeypatch)
    launcher = os_launcher(UserDirectory(home))
    account = pwd.getpwuid(os.getuid()).pw_name
    assert launcher == Launcher(f"os:{account}", AuthMethod.LOCAL_OS_USER)
    gov = GovernedRegistry(home, sinks=[])
    record_launch(gov.audit, "train-1", launcher, pipeline="samdops-training")
    assert launched_by(gov.audit.entries(), "train-1") == Actor(
        f"os:{account}", AuthMethod.LOCAL_OS_USER
    )


def test_a_user_cannot_review_what_the_os_account_of_their_name_trained(home: Path) -> None:
    """A model trained before there were users (as ``os:quinn``) is not quinn's to review."""
    gov = staffed_registry(home)
    ref = gov.register_model("pima", model_fields(), trained_by="os:quinn", run="r1").id
    with pytest.raises(AccessDenied) as info:
        gov.sign(ref, Meaning.REVIEW, "quinn", PASSWORDS["quinn"])
    assert str(info.value) == (
        f"quinn trained or registered {ref} and cannot review it (separation of duties)"
    )
    gov.sign(ref, Meaning.REVIEW, "rita", PASSWORDS["rita"])
    assert gov.get(ref).state == State.REVIEWED


def test_a_run_name_is_launched_once_and_a_second_claim_is_refused(home: Path) -> None:
    gov = GovernedRegistry(home, sinks=[])
    record_launch(gov.audit, "train-1", Launcher("alice", AuthMethod.PASSWORD), pipeline="p")
    with pytest.raises(AccessDenied, match=r"^run 'train-1' was already launched; a run name"):
        record_launch(gov.audit, "train-1", Launcher("mallory", AuthMethod.PASSWORD), pipeline="p")
    # A second launch event appended behind the launcher's back makes the run's trainer unknown.
    gov.audit.append(
        EventDraft(
            actor=Actor("mallory", AuthMethod.PASSWORD),
            action=Action.CREATE,
            target=Target("run:train-1", "1"),
            source=Source(SourceKind.CLI, "samdops run"),
            details={"kind": LAUNCH_KIND, "pipeline": "p"},
        )
    )
    with pytest.raises(VerificationError, match=r"^run 'train-1' has 2 launch events \(0, 1\)"):
        launched_by(gov.audit.entries(), "train-1")
    assert launched_by(gov.audit.entries(), "train-2") is None  # nobody: the service account


@pytest.fixture
def kfp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeKfp]:
    import kfp.client.client as client_module

    monkeypatch.setattr(client_module.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "none.json"))
    monkeypatch.delenv("KF_PIPELINES_UI_ENDPOINT", raising=False)
    yield from serve()


def _package(tmp_path: Path) -> Path:
    """A compiled training pipeline with the parameters that bind a launch: run and state."""
    parameters = {
        name: {"parameterType": "STRING", "isOptional": name != "data_uri"}
        for name in ("config", "data_uri", "state", "run")
    }
    spec = {
        "pipelineInfo": {"name": "samdops-training"},
        "schemaVersion": "2.1.0",
        "sdkVersion": "kfp-2.17.3",
        "defaultPipelineRoot": "s3://samdops-pipelines/v2",
        "root": {"dag": {"tasks": {}}, "inputDefinitions": {"parameters": parameters}},
    }
    path = tmp_path / "samdops-training.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def test_two_launchers_racing_for_one_run_name_cannot_both_claim_it(home: Path) -> None:
    """Each launcher has its own view of the log (another process); the later one is refused."""
    first, second = GovernedRegistry(home, sinks=[]), GovernedRegistry(home, sinks=[])
    assert len(second.audit) == 0  # the second launcher read the log before the first appended
    record_launch(first.audit, "train-1", Launcher("alice", AuthMethod.PASSWORD), pipeline="p")
    with pytest.raises(AccessDenied, match=r"^run 'train-1' was already launched"):
        record_launch(second.audit, "train-1", Launcher("bob", AuthMethod.PASSWORD), pipeline="p")
    assert launched_by(GovernedRegistry(home, sinks=[]).audit.entries(), "train-1") == Actor(
        "alice", AuthMethod.PASSWORD
    )


def test_a_submitted_run_is_launched_by_the_signed_in_submitter(
    gov: GovernedRegistry,
    home: Path,
    tmp_path: Path,
    kfp: FakeKfp,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _impersonate(monkeypatch)
    argv = ["submit", str(_package(tmp_path)), "--host", kfp.url, "--param", "data_uri=s3://b/d"]
    argv += ["--param", f"state={home}", "--run-name", "nightly", "--user", "alice"]
    status, out, err = _cli(capsys, monkeypatch, PW["alice"] + "\n", *argv, "--password-stdin")
    assert status == 0, err
    assert out.splitlines()[-1] == "launched by alice, run by service account samdops-steps"
    assert kfp.requests[-1].json()["runtime_config"]["parameters"]["run"] == "nightly"
    assert launched_by(gov.audit.entries(), "nightly") == Actor("alice", AuthMethod.PASSWORD)
    # The same run name cannot be claimed again, by anyone.
    status, _, err = _cli(capsys, monkeypatch, PW["quinn"] + "\n", *argv[:-1], "quinn",
                          "--password-stdin")  # fmt: skip
    assert (status, err) == (
        2,
        "samdops: error: user 'quinn' (roles: qa-reviewer) may not register-model; ask a user "
        "whose role grants it\n",
    )
    status, _, err = _cli(capsys, monkeypatch, PW["alice"] + "\n", *argv, "--password-stdin")
    assert (status, err) == (
        2,
        "samdops: error: run 'nightly' was already launched; a run name is used once\n",
    )


# -- the last administrator --------------------------------------------------------------------


def test_the_only_administrator_cannot_be_disabled(
    gov: GovernedRegistry,
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = ["users", "disable", "admin", "--user", "admin", "--password-stdin"]
    status, _, err = _cli(capsys, monkeypatch, PW["admin"] + "\n", *argv)
    assert (status, err) == (
        2,
        "samdops: error: admin is the only user administrator left; add another one before "
        "this change\n",
    )
    assert not UserDirectory(home).get("admin").disabled
    # With a second administrator, the first may go; then the second is the last one.
    users = gov.users
    admin = users.authenticate("admin", PW["admin"])
    users.add(admin, "ada2", "Ada Two", {Role.USER_ADMIN}, temporary_password="t" * 12)
    users.change_password("ada2", "t" * 12, "second-admin-pw")
    status, out, _ = _cli(capsys, monkeypatch, PW["admin"] + "\n", *argv)
    assert (status, out) == (0, "disabled admin; the id is never reused\n")
    again = ["users", "disable", "ada2", "--user", "ada2", "--password-stdin"]
    status, _, err = _cli(capsys, monkeypatch, "second-admin-pw\n", *again)
    assert status == 2 and err.startswith("samdops: error: ada2 is the only user administrator")


def test_a_locked_administrator_does_not_count_as_the_one_left(
    gov: GovernedRegistry, home: Path
) -> None:
    users = gov.users
    admin = users.authenticate("admin", PW["admin"])
    users.add(admin, "ada2", "Ada Two", {Role.USER_ADMIN}, temporary_password="t" * 12)
    users.change_password("ada2", "t" * 12, "second-admin-pw")
    for _ in range(3):
        with pytest.raises(Exception, match="authentication failed"):
            users.authenticate("ada2", "wrong-password-x")
    with pytest.raises(AccessDenied, match=r"^admin is the only user administrator left"):
        users.disable(users.authenticate("admin", PW["admin"]), "admin")
    assert not UserDirectory(home).get("admin").disabled


# -- reserved ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "user_id", ["svc:samdops-pipeline", "svc:x", "SVC:x", "os:alice", "os:root"]
)
def test_service_and_os_account_ids_cannot_be_added_as_users(
    gov: GovernedRegistry,
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    user_id: str,
) -> None:
    before = len(gov.audit)
    for extra in ([], ["--service-account"]):
        argv = ["users", "add", user_id, "--name", "Mallory", "--role", "qa-reviewer", *extra]
        argv += ["--user", "admin", "--password-stdin"]
        status, _, err = _cli(capsys, monkeypatch, f"{PW['admin']}\ntemporary-password\n", *argv)
        prefix = user_id[: user_id.index(":") + 1].lower()
        assert (status, err) == (
            2,
            f"samdops: error: user id {user_id!r} starts with {prefix!r}, which is reserved for "
            "service and OS accounts (svc:, os:); choose another id\n",
        )
    assert len(GovernedRegistry(home, sinks=[]).audit) == before  # refused before any change
    with pytest.raises(Exception, match="reserved for service and OS accounts"):
        gov.users.add(
            gov.users.authenticate("admin", PW["admin"]), user_id, "M", {Role.QA_REVIEWER}
        )
    boot = UserDirectory(home.parent / "fresh")
    with pytest.raises(Exception, match="reserved for service and OS accounts"):
        boot.bootstrap_admin(user_id, "Mallory", "a-long-password")


# -- audit export ------------------------------------------------------------------------------


def test_audit_export_escapes_names_and_text_that_would_forge_lines(
    gov: GovernedRegistry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    forged = "mallory\n#99  2026-01-01T00:00:00.000Z  SIGN  pima@1  -> success"
    gov.audit.append(  # stored before names were checked, or by a future bug
        EventDraft(
            actor=Actor(forged, AuthMethod.PASSWORD),
            action=Action.MODIFY,
            target=Target("user:x\x1b[2J", "1"),
            source=Source(SourceKind.CLI, "samdops\rusers"),
            reason="why\n    reason: approved by QA",
            details={"name": "Eve\x1b[31m Red\u202e", "note\n": "x\ty"},
        )
    )
    gov.audit.checkpoint()
    admin = gov.users.authenticate("admin", PW["admin"])
    gov.users.add(admin, "audrey", "Audrey", {Role.AUDITOR}, temporary_password="t" * 12)
    gov.users.change_password("audrey", "t" * 12, "auditor-password")
    out_dir = tmp_path / "export"
    monkeypatch.setattr("sys.stdin", io.StringIO("auditor-password\n"))
    argv = ["audit", "export", "--out", str(out_dir), "--user", "audrey", "--password-stdin"]
    assert main(argv) == 0
    capsys.readouterr()
    report = (out_dir / "report.txt").read_text(encoding="utf-8")
    lines = report.splitlines()
    assert all(line.isprintable() for line in lines)
    assert not any(line.startswith("#99") for line in lines)
    assert (
        "    actor:  mallory\\n#99  2026-01-01T00:00:00.000Z  SIGN  pima@1  -> success "
        "(authenticated by password)"
    ) in lines
    assert "    reason: why\\n    reason: approved by QA" in lines
    assert "    source: cli samdops\\rusers" in lines
    assert "    name: Eve\\x1b[31m Red\\u202e" in lines
    assert "    note\\n: x\\ty" in lines
    assert any(line.endswith("MODIFY  user:x\\x1b[2J@1  -> success") for line in lines)
