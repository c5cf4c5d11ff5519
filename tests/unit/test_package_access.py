"""Issue 18: `samdops package export` records who exported which package (its manifest digest)
and a read (purpose export) of each dataset it carries; `samdops reproduce` records its read of
the training snapshot (purpose reproduce). A role that may not is refused and audited; an audit
log that refuses appends fails the command in one line and leaves nothing at the output.

One Pima model is trained in process (~5 s) for the module; each test works on its own copy.
"""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from samdops.audit.entry import AuditRecord
from samdops.audit.event import Action, Actor, AuthMethod, EventKind, Outcome, SourceKind
from samdops.audit.store import DocumentEntryStore
from samdops.digest import sha256_file
from samdops.errors import AuditError
from samdops.governance.launch import os_account
from samdops.governance.roles import Role
from samdops.governance.service import GovernedRegistry
from samdops.launch.compiler import compile_pipeline
from samdops.package import layout as L
from samdops.package.export import export_package
from samdops.package.manifest import MANIFEST_FILE
from tests.cli_helpers import cli_in_process, train_pima

MODEL = "pima-diabetes-onset@1"
STAFF = {  # id: (roles, password)
    "max": ({Role.RELEASE_MANAGER}, "release-password1"),
    "quinn": ({Role.QA_REVIEWER}, "reviewer-password"),
    "eve": ({Role.ML_ENGINEER}, "engineer-password"),
}
OS_ACTOR = Actor(f"os:{os_account()}", AuthMethod.LOCAL_OS_USER)
REFUSED = "the audit store refuses appends"
export = partial(export_package, compile_spec=compile_pipeline)


def add_staff(home: Path) -> None:
    """Give ``home`` an administrator (if it has none) and the users of STAFF it lacks."""
    users = GovernedRegistry(home, sinks=[]).users
    if not users.users():
        users.bootstrap_admin("admin", "Ada Admin", "admin-password-1")
    admin = users.authenticate("admin", "admin-password-1")
    existing = {user.id for user in users.users()}
    for user_id, (roles, password) in STAFF.items():
        if user_id in existing:
            continue
        users.add(
            admin,
            user_id,
            f"{user_id.title()} Person",
            roles,
            temporary_password="temporary-password",
        )
        users.change_password(user_id, "temporary-password", password)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state with the Pima model and no users (the OS account may act)."""
    base = tmp_path_factory.mktemp("package-access")
    train_pima(base / "home", base / "work")
    return base / "home"


@pytest.fixture
def home(trained: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "home"))


@pytest.fixture
def staffed(home: Path) -> Path:
    add_staff(home)
    return home


def _new(home: Path, start: int) -> list[AuditRecord]:
    return list(GovernedRegistry(home, sinks=[]).audit.entries(start))


def _size(home: Path) -> int:
    return len(GovernedRegistry(home, sinks=[]).audit)


def _refuse_appends(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: DocumentEntryStore, seq: int, data: bytes) -> bool:
        raise AuditError(REFUSED)

    monkeypatch.setattr(DocumentEntryStore, "create_if_absent", refuse)


def test_an_export_names_the_user_the_package_digest_and_reads_each_dataset_once(
    staffed: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, start = tmp_path / "pkg", _size(staffed)
    status, stdout, err = cli_in_process(
        capsys, monkeypatch, STAFF["max"][1] + "\n",
        "package", "export", MODEL, str(out), "--state", str(staffed),
        "--user", "max", "--password-stdin",
    )  # fmt: skip
    assert (status, err) == (0, ""), err
    digest = sha256_file(out / MANIFEST_FILE)
    assert f"  digest   {digest}  (its manifest; exported by max)\n" in stdout
    new = _new(staffed, start)
    reads = [r.event for r in new if r.event.action == Action.READ]
    (exported,) = [r.event for r in new if r.event.action == Action.EXPORT]
    expected = []
    for role in ("train", "test"):
        sheet = json.loads((out / L.datasheet(role, "json")).read_bytes())
        rows = len(pd.read_parquet(out / L.snapshot(role)))
        assert sheet["sha256"] == sha256_file(out / L.snapshot(role))
        expected.append(
            (f"dataset/pima-diabetes-onset/{role}", sheet["sha256"], str(rows), "export", role)
        )
    got = [
        (e.target.id, e.target.version, *(e.detail_map()[k] for k in ("rows", "purpose", "role")))
        for e in reads
    ]
    assert got == expected
    for event in (*reads, exported):
        assert (event.actor.id, event.actor.auth) == ("max", AuthMethod.PASSWORD)
        assert (event.kind, event.outcome) == (EventKind.ACCESS, Outcome.SUCCESS)
        assert (event.source.kind, event.source.ref) == (SourceKind.CLI, "samdops package export")
    assert (exported.target.id, exported.target.version) == (f"package/{MODEL}", digest)
    details = exported.detail_map()
    assert exported.new_hash == details["package_sha256"] == digest
    assert details["model"] == MODEL
    assert details["datasets"] == ",".join(f"{role}={sha}" for _, sha, _, _, role in expected)
    audit = GovernedRegistry(staffed, sinks=[]).audit
    assert max(audit.store.checkpoint_sizes()) == len(audit)  # covered before success


def test_an_export_without_data_reads_none_and_a_second_export_gives_the_same_bytes(
    home: Path, tmp_path: Path
) -> None:
    first = export(MODEL, tmp_path / "one", by=OS_ACTOR, state=home, include_data=False)
    start = _size(home)
    second = export(MODEL, tmp_path / "two", by=OS_ACTOR, state=home, include_data=False)
    assert first.package_sha256 == second.package_sha256  # its own events change nothing
    (event,) = (r.event for r in _new(home, start))
    assert (event.action, event.actor, event.detail_map()["datasets"]) == (
        Action.EXPORT,
        OS_ACTOR,
        "none",
    )


def test_a_role_that_may_not_export_is_refused_audited_and_nothing_is_written(
    staffed: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, start = tmp_path / "pkg", _size(staffed)
    status, stdout, err = cli_in_process(
        capsys, monkeypatch, STAFF["quinn"][1] + "\n",
        "package", "export", MODEL, str(out), "--state", str(staffed),
        "--user", "quinn", "--password-stdin",
    )  # fmt: skip
    assert (status, stdout) == (2, "")
    assert err == (
        "samdops: error: user 'quinn' (roles: qa-reviewer) may not export-package; ask a user "
        "whose role grants it\n"
    )
    assert list(tmp_path.iterdir()) == [staffed]
    (denied,) = (r.event for r in _new(staffed, start) if r.event.outcome == Outcome.DENIED)
    assert (denied.action, denied.actor.id, denied.target.id) == (
        Action.QUERY,
        "quinn",
        "query/package/export",
    )


def test_an_audit_log_that_refuses_appends_fails_the_export_and_leaves_nothing(
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, start = tmp_path / "out" / "pkg", _size(home)
    _refuse_appends(monkeypatch)
    status, stdout, err = cli_in_process(
        capsys, monkeypatch, "", "package", "export", MODEL, str(out), "--tar", "--state", str(home)
    )
    assert (status, stdout, err) == (2, "", f"samdops: error: {REFUSED}\n")
    assert list((tmp_path / "out").iterdir()) == []  # no package, no archive, no staging copy
    monkeypatch.undo()
    assert _size(home) == start


def test_reproduce_records_its_read_of_the_training_snapshot(
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    package = export(MODEL, tmp_path / "pkg", by=OS_ACTOR, state=home).directory
    start = _size(home)
    status, stdout, err = cli_in_process(
        capsys, monkeypatch, "", "reproduce", str(package), "--state", str(home)
    )
    assert (status, err) == (0, "") and stdout.endswith("MATCH\n")
    (event,) = (r.event for r in _new(home, start))
    train = package / L.snapshot("train")
    assert (event.action, event.actor, event.source.ref) == (
        Action.READ,
        OS_ACTOR,
        "samdops reproduce",
    )
    assert (event.target.id, event.target.version) == (
        "dataset/pima-diabetes-onset/train",
        sha256_file(train),
    )
    details = event.detail_map()
    assert (details["purpose"], details["rows"], details["model"]) == (
        "reproduce",
        str(len(pd.read_parquet(train))),
        MODEL,
    )


def test_reproduce_fails_in_one_line_when_the_read_cannot_be_recorded(
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    package = export(MODEL, tmp_path / "pkg", by=OS_ACTOR, state=home).directory
    _refuse_appends(monkeypatch)
    status, stdout, err = cli_in_process(
        capsys, monkeypatch, "", "reproduce", str(package), "--state", str(home)
    )
    assert (status, stdout, err) == (2, "", f"samdops: error: {REFUSED}\n")  # nothing rebuilt


def test_a_reviewer_may_not_reproduce_from_patient_data(
    staffed: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    package = export(MODEL, tmp_path / "pkg", by=OS_ACTOR, state=staffed).directory
    status, stdout, err = cli_in_process(
        capsys, monkeypatch, STAFF["quinn"][1] + "\n",
        "reproduce", str(package), "--state", str(staffed), "--user", "quinn", "--password-stdin",
    )  # fmt: skip
    assert (status, stdout) == (2, "")
    assert err == (
        "samdops: error: user 'quinn' (roles: qa-reviewer) may not read-data; ask a user whose "
        "role grants it\n"
    )
