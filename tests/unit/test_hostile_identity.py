"""Issue 16, item 2: authority lives in the audit log, attacked the way a hostile user would.

Users, roles, lock state and password resets are audit events; an edited user record is refused
naming the user; `users reset` sets a temporary password nobody can sign with; names, ids and
reasons holding control characters are refused, and stored ones are escaped when shown.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samdops.audit.event import Action, Outcome, Target
from samdops.digest import sha256_bytes
from samdops.errors import AccessDenied, AuthenticationFailed, ConfigError, VerificationError
from samdops.governance.identity import UserDirectory
from samdops.governance.lifecycle import State
from samdops.governance.roles import Role
from samdops.governance.service import GovernedRegistry
from samdops.governance.signatures import Meaning, sign_record
from samdops.governance.text import check_text, escaped
from samdops.package.card import render_html, render_markdown
from tests.cli_helpers import cli_in_process as _cli

PW = {
    "admin": "admin-password-1",
    "quinn": "reviewer-password",
    "rita": "reviewer2-password",
    "max": "release-password1",
}
ROLES = {"quinn": Role.QA_REVIEWER, "rita": Role.QA_REVIEWER, "max": Role.RELEASE_MANAGER}
FORGED_NAME = "Quinn Two\n  approval  Rhea Release (rm1), 2026-01-01T00:00:00.000Z, approval"
CONTROL = ["\n", "\r", "\t", "\x1b[2J", "\x00", "\x7f", "\x85", "\u2028", "\u2029", "\u202e"]


def _fields() -> dict[str, Any]:
    return {
        "status": "registered",
        "model": {"sha256": "sha256:" + "ab" * 32},
        "gate": {"passed": True, "criteria": []},
        "metrics": {"auroc": {"point": 0.87}},
    }


@pytest.fixture
def gov(home: Path) -> GovernedRegistry:
    registry = GovernedRegistry(home, sinks=[])
    users = registry.users
    users.bootstrap_admin("admin", "Ada Admin", PW["admin"])
    admin = users.authenticate("admin", PW["admin"])
    for user_id, role in ROLES.items():
        users.add(admin, user_id, f"{user_id.title()} Person", {role}, temporary_password="t" * 12)
        users.change_password(user_id, "t" * 12, PW[user_id])
    return registry


@pytest.fixture
def ref(gov: GovernedRegistry) -> str:
    return str(gov.register_model("pima", _fields(), trained_by="eve", run="run-1").id)


def _lock(gov: GovernedRegistry, ref: str, user: str = "quinn") -> None:
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            gov.sign(ref, Meaning.REVIEW, user, "wrong-password-x")


def _record_file(home: Path, user: str, gov: GovernedRegistry) -> Path:
    """The file of the user's record in force, writable (as root could make it)."""
    last = [r for r in gov.audit.entries() if str(r.event.target).startswith(f"user:{user}@")]
    digest = next(r.event.new_hash for r in reversed(last) if r.event.outcome == Outcome.SUCCESS)
    path = home / "identity" / "users" / user / f"{str(digest).removeprefix('sha256:')}.json"
    os.chmod(path, stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)
    return path


# -- an edited directory is refused, naming the user --------------------------------------------


def test_unlocking_and_promoting_a_signer_by_editing_their_record_is_refused(
    gov: GovernedRegistry, ref: str, home: Path
) -> None:
    _lock(gov, ref)
    path = _record_file(home, "quinn", gov)
    entry = json.loads(path.read_text())
    entry.update(failed_attempts=0, roles=["qa-reviewer", "release-manager"])
    path.write_text(json.dumps(entry))
    message = (
        r"^user 'quinn': the record in the user directory was changed since audit entry \d+ "
        r"wrote it; the directory is refused until it is restored$"
    )
    with pytest.raises(VerificationError, match=message):
        gov.sign(ref, Meaning.REVIEW, "quinn", PW["quinn"])
    with pytest.raises(VerificationError, match=message):
        gov.users.get("max")  # the whole directory is refused, not only quinn
    assert gov.get(ref).state == State.VALIDATED


def test_a_record_added_beside_the_one_in_force_grants_nothing(
    gov: GovernedRegistry, ref: str, home: Path
) -> None:
    _lock(gov, ref)
    entry = json.loads(_record_file(home, "quinn", gov).read_text())
    entry.update(failed_attempts=0, roles=["qa-reviewer", "release-manager"])
    forged = json.dumps(entry).encode()
    folder = home / "identity" / "users"
    (folder / "quinn" / f"{sha256_bytes(forged).removeprefix('sha256:')}.json").write_bytes(forged)
    mallory = {**entry, "id": "mallory", "name": "Mallory", "roles": ["release-manager"]}
    (folder / "mallory").mkdir()
    (folder / "mallory" / ("0" * 64 + ".json")).write_text(json.dumps(mallory))
    (folder / "000000000099.json").write_text(json.dumps({"quinn": entry}))  # an old-style one
    quinn = gov.users.get("quinn")
    assert quinn.locked and quinn.roles == {Role.QA_REVIEWER}
    with pytest.raises(AuthenticationFailed, match=r"^signing is locked for 'quinn' after 3"):
        gov.sign(ref, Meaning.REVIEW, "quinn", PW["quinn"])
    with pytest.raises(AuthenticationFailed, match=r"^authentication failed for 'mallory'$"):
        gov.sign(ref, Meaning.REVIEW, "mallory", PW["quinn"])
    assert [u.id for u in gov.users.users()] == ["admin", "max", "quinn", "rita"]


def test_a_removed_user_record_is_refused_naming_the_user(
    gov: GovernedRegistry, home: Path
) -> None:
    _record_file(home, "rita", gov).unlink()
    with pytest.raises(
        VerificationError, match=r"^user 'rita': the record in the user directory is missing since"
    ):
        gov.users.users()


def test_a_directory_from_before_audited_users_is_refused(home: Path) -> None:
    folder = home / "identity" / "users"
    folder.mkdir(parents=True)
    (folder / "000000000001.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"holds snapshots from before users were audited"):
        UserDirectory(home).bootstrap_admin("admin", "Ada Admin", PW["admin"])


# -- every change to a user is an audit event, without secrets ----------------------------------


def _user_events(gov: GovernedRegistry, start: int = 0) -> list[tuple[str, str, str, str, str]]:
    return [
        (e.action.value, str(e.target), e.actor.id, e.outcome.value, e.reason or "")
        for e in (r.event for r in gov.audit.entries(start))
        if str(e.target).startswith("user:")
    ]


def test_users_locks_and_resets_are_audit_events(gov: GovernedRegistry, ref: str) -> None:
    start = len(gov.audit)
    _lock(gov, ref, "rita")
    admin = gov.users.authenticate("admin", PW["admin"])
    gov.users.reset_password(admin, "rita", "admin-chosen-pw")
    gov.users.change_password("rita", "admin-chosen-pw", "rita-own-password")
    failed = "failed authentication"
    assert _user_events(gov, start) == [
        ("modify", "user:rita@3", "rita", "success", f"{failed} (1 of 3)"),
        ("modify", "user:rita@4", "rita", "success", f"{failed} (2 of 3)"),
        ("modify", "user:rita@5", "rita", "success", f"{failed} (3 of 3); signing is now locked"),
        (
            "modify",
            "user:rita@6",
            "admin",
            "success",
            "temporary password set by a user administrator; failed attempts cleared",
        ),
        ("modify", "user:rita@7", "rita", "success", "password changed by its owner"),
    ]
    locked = next(r.event for r in gov.audit.entries(start) if str(r.event.target) == "user:rita@5")
    assert locked.detail_map() == {
        "kind": "user",
        "name": "Rita Person",
        "roles": "qa-reviewer",
        "user_kind": "person",
        "failed_attempts": "3",
        "locked": "true",
        "must_change_password": "false",
        "disabled": "false",
        "cef_severity": "8",  # a lockout is a high-severity security event (ES-06)
    }


def test_audit_entries_hold_a_digest_of_the_user_record_and_no_secret(
    gov: GovernedRegistry, home: Path
) -> None:
    everything = b"".join(p.read_bytes() for p in sorted((home / "audit").rglob("*.entry")))
    assert b"scrypt$" not in everything
    assert not [pw for pw in (*PW.values(), "t" * 12) if pw.encode() in everything]
    (event,) = [r.event for r in gov.audit.entries() if str(r.event.target) == "user:max@2"]
    stored = home / "identity" / "users" / "max" / f"{str(event.new_hash)[7:]}.json"
    assert sha256_bytes(stored.read_bytes()) == event.new_hash
    assert gov.audit.verify(gov.audit_key.public_key_pem()).size == len(gov.audit)


def test_users_bootstrap_and_add_write_audit_entries_through_the_cli(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    boot = ("users", "bootstrap", "--id", "admin", "--name", "Ada Admin", "--password-stdin")
    status, out, _ = _cli(capsys, monkeypatch, PW["admin"] + "\n", *boot)
    assert (status, out) == (0, "created user administrator admin (Ada Admin)\n")
    add = ["users", "add", "zed", "--name", "Zed", "--role", "auditor", "--user", "admin"]
    add.append("--password-stdin")
    status, _, err = _cli(capsys, monkeypatch, "WRONG-password-1\ntemporary-password\n", *add)
    assert (status, err) == (
        2,
        "samdops: error: authentication failed for 'admin'; 2 attempt(s) left\n",
    )
    status, _, _ = _cli(capsys, monkeypatch, f"{PW['admin']}\ntemporary-password\n", *add)
    assert status == 0
    gov = GovernedRegistry(home, sinks=[])
    cleared = "authenticated; the count of failed attempts was cleared"
    assert _user_events(gov) == [
        ("create", "user:admin@1", "admin", "success", ""),
        ("modify", "user:admin@2", "admin", "success", "failed authentication (1 of 3)"),
        ("signing_failure", "user:admin@0", "admin", "denied", ""),
        ("modify", "user:admin@3", "admin", "success", cleared),
        ("create", "user:zed@1", "admin", "success", ""),
    ]
    verified = gov.audit.verify(gov.audit_key.public_key_pem())
    assert verified.size == len(gov.audit) == 5  # every entry is under a signed checkpoint


def test_a_second_bootstrap_is_refused_and_audited(gov: GovernedRegistry) -> None:
    start = len(gov.audit)
    with pytest.raises(AccessDenied, match=r"^the user directory is already initialised$"):
        UserDirectory(gov.state).bootstrap_admin("root2", "Second Admin", "another-password")
    assert _user_events(gov, start) == [("create", "user:root2@0", "root2", "denied", "")]
    assert [u.id for u in gov.users.users()] == ["admin", "max", "quinn", "rita"]


def test_a_user_management_refusal_is_audited(gov: GovernedRegistry) -> None:
    start = len(gov.audit)
    quinn = gov.users.authenticate("quinn", PW["quinn"])
    with pytest.raises(AccessDenied, match=r"^user 'quinn' .* may not manage-users"):
        gov.users.reset_password(quinn, "max", "quinn-knows-this")
    (event,) = [r.event for r in gov.audit.entries(start)]
    assert (event.action, str(event.target), event.outcome) == (
        Action.MODIFY,
        "user:max@0",
        Outcome.DENIED,
    )


# -- `users reset`: a temporary password that nobody signs with ---------------------------------


def test_users_reset_unlocks_with_a_password_only_good_for_choosing_a_new_one(
    gov: GovernedRegistry,
    ref: str,
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _lock(gov, ref)
    sign = ("sign", ref, "--meaning", "review", "--user", "quinn", "--password-stdin")
    status, _, err = _cli(capsys, monkeypatch, PW["quinn"] + "\n", *sign)
    assert (status, err) == (
        2,
        "samdops: error: signing is locked for 'quinn' after 3 failed attempts; a user "
        "administrator must reset the password (`samdops users reset quinn`)\n",
    )
    reset = ("users", "reset", "quinn", "--user", "admin", "--password-stdin")
    status, out, _ = _cli(capsys, monkeypatch, f"{PW['admin']}\nadmin-knows-this\n", *reset)
    assert (status, out) == (
        0,
        "temporary password set for quinn; it only serves to choose a new one with "
        "`samdops users passwd --user quinn`\n",
    )
    temporary = (
        "samdops: error: quinn still has a temporary password set by an administrator; choose "
        "your own with `samdops users passwd --user quinn` first\n"
    )
    status, _, err = _cli(capsys, monkeypatch, "admin-knows-this\n", *sign)
    assert (status, err) == (2, temporary)
    assert gov.get(ref).state == State.VALIDATED
    passwd = ("users", "passwd", "--user", "quinn", "--password-stdin")
    status, _, _ = _cli(capsys, monkeypatch, "admin-knows-this\nquinn-chose-this\n", *passwd)
    assert status == 0
    status, out, _ = _cli(capsys, monkeypatch, "quinn-chose-this\n", *sign)
    assert status == 0 and "state reviewed" in out


def test_a_temporary_password_cannot_release_or_manage_either(
    gov: GovernedRegistry, ref: str
) -> None:
    gov.sign(ref, Meaning.REVIEW, "quinn", PW["quinn"])
    gov.sign(ref, Meaning.APPROVAL, "max", PW["max"])
    admin = gov.users.authenticate("admin", PW["admin"])
    gov.users.reset_password(admin, "max", "admin-knows-this")
    with pytest.raises(AccessDenied, match=r"^max still has a temporary password set by an admin"):
        gov.transition(ref, State.RELEASED, "max", "admin-knows-this")
    assert gov.get(ref).state == State.APPROVED
    gov.users.add(admin, "root2", "Second Admin", {Role.USER_ADMIN}, temporary_password="x" * 12)
    with pytest.raises(AccessDenied, match=r"^root2 still has a temporary password"):
        gov.users.authenticate("root2", "x" * 12)  # the first admin cannot act as the second


def test_an_administrator_cannot_reset_their_own_password(gov: GovernedRegistry) -> None:
    admin = gov.users.authenticate("admin", PW["admin"])
    with pytest.raises(
        AccessDenied, match=r"^a user administrator cannot reset their own password$"
    ):
        gov.users.reset_password(admin, "admin", "my-new-password")


# -- control characters: refused when given, escaped when shown ---------------------------------


@pytest.mark.parametrize("char", CONTROL, ids=repr)
def test_a_name_with_a_control_character_is_refused_and_nothing_written(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, char: str
) -> None:
    name = f"Quinn{char}Two"
    boot = ("users", "bootstrap", "--id", "admin", "--name", name, "--password-stdin")
    status, out, err = _cli(capsys, monkeypatch, PW["admin"] + "\n", *boot)
    shown = repr(char[0])
    assert (status, out) == (2, "")
    assert err == (
        f"samdops: error: the printed name holds a control character ({shown} at position 5); "
        "give it as one line of printable text\n"
    )
    assert not home.exists()


@pytest.mark.parametrize(
    "user_id", ["quinn\nmax", "quinn\t", "qu\x1binn", "ünal", "", "-x", "a" * 65]
)
def test_a_user_id_that_is_not_plain_ascii_is_refused(gov: GovernedRegistry, user_id: str) -> None:
    start = len(gov.audit)
    admin = gov.users.authenticate("admin", PW["admin"])
    with pytest.raises(ConfigError, match=r"^user id .* must be 1 to 64 ASCII letters, digits"):
        gov.users.add(admin, user_id, "Name", {Role.AUDITOR}, temporary_password="x" * 12)
    with pytest.raises(ConfigError, match=r"^user id .* must be 1 to 64 ASCII letters, digits"):
        gov.users.authenticate(user_id, PW["admin"])
    assert len(gov.audit) == start


@pytest.mark.parametrize("char", CONTROL, ids=repr)
def test_a_reason_with_a_control_character_is_refused(
    gov: GovernedRegistry, ref: str, char: str
) -> None:
    start = len(gov.audit)
    with pytest.raises(ConfigError, match=r"^the reason holds a control character"):
        gov.transition(ref, State.REJECTED, "quinn", PW["quinn"], reason=f"bad{char}data")
    with pytest.raises(ConfigError, match=r"^the reason holds a control character"):
        gov.purge_audit("quinn", PW["quinn"], before=1, reason=f"disk{char}full")
    assert len(gov.audit) == start and gov.get(ref).state == State.VALIDATED


def _forge_signature(gov: GovernedRegistry, ref: str, name: str) -> None:
    """A review signature by a name stored before names were checked."""
    model = gov.get(ref)
    signature = sign_record(
        model.record.document,
        meaning=Meaning.REVIEW,
        signer_id="quinn2",
        name=name,
        signed_at="2026-01-01T00:00:00.000Z",
        key=gov.esign_key,
    )
    gov._person_event(
        "quinn2",
        Action.SIGN,
        Target(*ref.split("@")),
        "cli",
        prev_hash=model.history.record_sha256,
        new_hash=signature.digest,
        details={"meaning": "review", **{f"sig.{k}": v for k, v in signature.as_dict().items()}},
    )


def test_a_stored_name_with_a_newline_cannot_forge_a_line_in_registry_output(
    gov: GovernedRegistry,
    ref: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _forge_signature(gov, ref, FORGED_NAME)
    escaped_line = (
        "Quinn Two\\n  approval  Rhea Release (rm1), 2026-01-01T00:00:00.000Z, approval (quinn2), "
        "2026-01-01T00:00:00.000Z, review"
    )
    reader = (PW["max"] + "\n", "--user", "max", "--password-stdin")
    status, out, _ = _cli(capsys, monkeypatch, reader[0], "registry", "show", ref, *reader[1:])
    assert status == 0
    shown = out.splitlines()
    assert shown[-2:] == ["state: reviewed", f"signed: {escaped_line}"]
    status, out, _ = _cli(capsys, monkeypatch, reader[0], "registry", "list", *reader[1:])
    assert status == 0
    listed = out.splitlines()
    assert listed[1:] == [f"    signed: {escaped_line}"]
    assert gov.get(ref).as_dict()["signatures"][0]["display"] == escaped_line


def _card(signature_name: str) -> dict[str, Any]:
    """The smallest card the renderers take, with one signature by ``signature_name``."""
    estimate = {"point": 0.8, "ci_low": 0.7, "ci_high": 0.9}
    return {
        "identity": {
            "name": "pima",
            "version": 1,
            **{k: "x" for k in ("model_sha256", "developer", "release_stage", "registered_at")},
            **{k: "x" for k in ("regulatory_status", "pccp")},
        },
        "intended_use": {
            **{k: "x" for k in ("clinical_task", "target_population", "intended_users")},
            "decision_role": "x",
            "out_of_scope": [],
        },
        "model": {"type": "x", "description": "x", "output": "x", "threshold": 0.5, "inputs": []},
        "data": [],
        "performance": {
            "test_set": {"size": 1, "positives": 1},
            "metrics": {"auroc": estimate},
            "comparator": {"name": "x", "metrics": {"auroc": estimate}},
            "gate": {"criteria": [], "passed": True},
            "subgroups": [],
            "calibration": {"mean_predicted": [], "observed_rate": [], "count": []},
        },
        "risks_and_limitations": {"safety_class": "x", "failure_modes": [], "biases": []},
        "lifecycle": {"plan": "x", "drift_thresholds": "x", "retraining_policy": "x"},
        "integrity": {
            "card_sha256": "x",
            "record_sha256": "x",
            "signatures": [
                {"name": signature_name, "signer": "quinn2", "signed_at": "t", "meaning": "review"}
            ],
        },
    }


def test_a_stored_name_with_a_newline_cannot_forge_a_line_in_the_model_card() -> None:
    plain = render_markdown(_card("Quinn Two"))
    forged = render_markdown(_card(FORGED_NAME))
    assert len(forged.splitlines()) == len(plain.splitlines())
    assert (
        "| Quinn Two\\n  approval  Rhea Release (rm1), 2026-01-01T00:00:00.000Z, approval | "
        "quinn2 | t | review |"
    ) in forged.splitlines()
    assert "\u2028" not in render_html(_card("Quinn\u2028Two"))


# -- properties: nothing shown can hold a line break, nothing refused is stored -----------------


@given(st.text())
def test_escaped_text_is_always_one_printable_line(text: str) -> None:
    shown = escaped(text)
    assert shown.isprintable() and len(shown.splitlines()) <= 1
    assert (shown == text) is text.isprintable()


@given(st.text(), st.sampled_from(CONTROL), st.text())
def test_text_with_a_control_character_is_always_refused(
    before: str, char: str, after: str
) -> None:
    with pytest.raises(ConfigError, match="holds a control character"):
        check_text("printed name", before + char + after, max_length=10_000)


@settings(max_examples=30, deadline=None)
@given(st.text(max_size=40))
def test_any_signature_name_renders_on_one_card_line(name: str) -> None:
    lines = render_markdown(_card(name)).splitlines()
    assert len(lines) == len(render_markdown(_card("Q")).splitlines())
