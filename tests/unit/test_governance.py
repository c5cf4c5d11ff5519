"""Lifecycle, separation of duties and Part 11 e-signatures, each property attacked."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from samdops.audit.event import Action, Outcome
from samdops.errors import (
    AccessDenied,
    AuditError,
    AuthenticationFailed,
    LifecycleError,
    RegistryError,
    VerificationError,
)
from samdops.governance.identity import Authenticated, UserDirectory
from samdops.governance.lifecycle import State
from samdops.governance.roles import MATRIX, Permission, Role, require
from samdops.governance.service import PIPELINE_ACTOR, GovernedRegistry
from samdops.governance.signatures import ElectronicSignature, Meaning
from tests.governed import PASSWORDS, staffed_registry
from tests.governed import model_fields as _fields


@pytest.fixture
def gov(home: Path) -> GovernedRegistry:
    return staffed_registry(home)


def _register(gov: GovernedRegistry, gate_passed: bool = True) -> str:
    return gov.register_model("pima", _fields(gate_passed), trained_by="eve", run="run-1").id


def _sign(gov: GovernedRegistry, ref: str, meaning: Meaning, user: str) -> Any:
    return gov.sign(ref, meaning, user, PASSWORDS[user])


def _release_path(gov: GovernedRegistry) -> str:
    ref = _register(gov)
    _sign(gov, ref, Meaning.REVIEW, "quinn")
    _sign(gov, ref, Meaning.APPROVAL, "max")
    return ref


# -- AC-02 / AC-03: the role matrix, every role x every permission ------------------------------

# The intended matrix, stated independently of MATRIX: a change to one without the other fails.
EXPECTED = {
    Role.DATA_STEWARD: {"read-registry", "read-data", "register-data"},
    Role.ML_ENGINEER: {
        "read-registry",
        "read-data",
        "register-model",
        "register-plan",
        "sign-authorship",
    },
    Role.QA_REVIEWER: {"read-registry", "register-plan", "sign-review", "reject", "read-audit"},
    Role.RELEASE_MANAGER: {
        "read-registry",
        "export-package",
        "sign-approval",
        "release",
        "retire",
        "reject",
    },
    Role.AUDITOR: {"read-registry", "read-audit", "export-audit"},
    Role.PIPELINE: {"read-registry", "read-data", "register-model", "record-gate"},
    Role.USER_ADMIN: {"manage-users"},
    Role.DRIFT_MONITOR: {"read-registry", "read-data", "record-alert"},
}
ALL_PERMISSIONS = {
    "read-registry",
    "read-data",
    "read-audit",
    "export-audit",
    "export-package",
    "register-data",
    "register-model",
    "register-plan",
    "record-gate",
    "sign-authorship",
    "sign-review",
    "sign-approval",
    "release",
    "retire",
    "reject",
    "manage-users",
    "record-alert",
}


def test_the_matrix_covers_every_role_and_permission_the_table_names() -> None:
    assert {r.value for r in Role} == {r.value for r in EXPECTED}
    assert {p.value for p in Permission} == ALL_PERMISSIONS
    assert set(MATRIX) == set(Role)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("permission", list(Permission), ids=lambda p: p.value)
def test_role_matrix(role: Role, permission: Permission) -> None:
    allowed = permission.value in EXPECTED[role]
    assert (permission in MATRIX[role]) is allowed
    if allowed:
        require("u", frozenset({role}), permission)
    else:
        with pytest.raises(AccessDenied, match=f"may not {permission.value}"):
            require("u", frozenset({role}), permission)


# -- AC-04: the lifecycle -----------------------------------------------------------------------


def test_full_lifecycle_with_signatures_shown(gov: GovernedRegistry) -> None:
    ref = _register(gov)
    assert gov.get(ref).state == State.VALIDATED
    assert _sign(gov, ref, Meaning.AUTHORSHIP, "eve").state == State.VALIDATED
    assert _sign(gov, ref, Meaning.REVIEW, "quinn").state == State.REVIEWED
    assert _sign(gov, ref, Meaning.APPROVAL, "max").state == State.APPROVED
    released = gov.transition(ref, State.RELEASED, "max", PASSWORDS["max"])
    assert released.state == State.RELEASED
    retired = gov.transition(ref, State.RETIRED, "max", PASSWORDS["max"], reason="superseded")
    assert retired.state == State.RETIRED
    shown = [s["display"] for s in retired.as_dict()["signatures"]]
    assert [s.split(", ")[0] for s in shown] == [
        "Eve Person (eve)",
        "Quinn Person (quinn)",
        "Max Person (max)",
    ]
    assert [s.rsplit(", ", 1)[1] for s in shown] == ["authorship", "review", "approval"]
    assert all(s.split(", ")[1].endswith("Z") for s in shown)


def test_skipping_a_state_is_refused(gov: GovernedRegistry) -> None:
    ref = _register(gov)
    with pytest.raises(LifecycleError) as info:
        _sign(gov, ref, Meaning.APPROVAL, "max")
    assert str(info.value) == (
        "pima@1 is validated; it cannot become approved (allowed next: rejected, reviewed)"
    )
    with pytest.raises(LifecycleError, match="pima@1 is validated; it cannot become released"):
        gov.transition(ref, State.RELEASED, "max", PASSWORDS["max"])


def test_self_approval_and_self_review_are_refused(gov: GovernedRegistry) -> None:
    ref = gov.register_model("pima", _fields(), trained_by="mia", run="r").id
    _sign(gov, ref, Meaning.REVIEW, "quinn")
    with pytest.raises(AccessDenied) as info:
        _sign(gov, ref, Meaning.APPROVAL, "mia")
    assert str(info.value) == (
        "mia trained or registered pima@1 and cannot approval it (separation of duties)"
    )


def test_reviewer_cannot_also_approve(gov: GovernedRegistry) -> None:
    ref = _register(gov)
    _sign(gov, ref, Meaning.REVIEW, "rita")
    with pytest.raises(AccessDenied, match="rita reviewed pima@1; the approver must be someone"):
        _sign(gov, ref, Meaning.APPROVAL, "rita")


def test_model_whose_gate_failed_cannot_be_reviewed_or_approved(gov: GovernedRegistry) -> None:
    ref = _register(gov, gate_passed=False)
    assert gov.get(ref).state == State.REGISTERED
    with pytest.raises(LifecycleError, match="failed its acceptance gate and cannot be reviewed"):
        _sign(gov, ref, Meaning.REVIEW, "quinn")
    with pytest.raises(LifecycleError, match="failed its acceptance gate and cannot be approved"):
        _sign(gov, ref, Meaning.APPROVAL, "max")
    rejected = gov.transition(ref, State.REJECTED, "quinn", PASSWORDS["quinn"], reason="gate")
    assert rejected.state == State.REJECTED


def test_wrong_role_cannot_sign(gov: GovernedRegistry) -> None:
    ref = _register(gov)
    with pytest.raises(
        AccessDenied, match=r"user 'max' \(roles: release-manager\) may not sign-review"
    ):
        _sign(gov, ref, Meaning.REVIEW, "max")


def test_refusals_are_audited_as_denied(gov: GovernedRegistry) -> None:
    ref = _register(gov)
    with pytest.raises(LifecycleError):
        _sign(gov, ref, Meaning.APPROVAL, "max")
    last = list(gov.audit.entries())[-1].event
    assert last.outcome == Outcome.DENIED and last.actor.id == "max"
    assert dict(last.details)["attempted"] == "sign:approval"
    assert gov.get(ref).state == State.VALIDATED


def test_reason_required_to_reject(gov: GovernedRegistry) -> None:
    ref = _register(gov)
    with pytest.raises(LifecycleError, match="a reason is required to make pima@1 rejected"):
        gov.transition(ref, State.REJECTED, "quinn", PASSWORDS["quinn"])


# -- ES-02: signatures bound to the exact record version ---------------------------------------


def test_editing_a_signed_record_breaks_verification(gov: GovernedRegistry, home: Path) -> None:
    ref = _register(gov)
    _sign(gov, ref, Meaning.REVIEW, "quinn")
    path = home / "registry" / "models" / "pima" / "000001.json"
    os.chmod(path, stat.S_IWUSR | stat.S_IRUSR)
    document = json.loads(path.read_bytes())
    document["metrics"]["auroc"]["point"] = 0.99
    path.write_text(json.dumps(document, sort_keys=True, separators=(",", ":")))
    with pytest.raises(
        VerificationError,
        match=r"^record pima@1 hashes to sha256:[0-9a-f]{64}, but "
        r"its audit event recorded sha256:[0-9a-f]{64}: the record was changed",
    ):
        gov.get(ref)


def test_signature_copied_to_another_record_does_not_verify(gov: GovernedRegistry) -> None:
    first = _register(gov)
    second = gov.register_model("pima", _fields(), trained_by="eve", run="run-2").id
    signature = _sign(gov, first, Meaning.REVIEW, "quinn").history.signatures[0]
    other = gov.get(second).record.document
    with pytest.raises(VerificationError) as info:
        signature.verify(other, gov.esign_key.public_key_pem())
    assert "covers" in str(info.value) and "the record was changed after signing" in str(info.value)
    # even with the digest rewritten to the other record's, the signed manifest no longer matches
    from samdops.governance.signatures import record_digest

    forged = ElectronicSignature(**{**signature.__dict__, "record_sha256": record_digest(other)})
    with pytest.raises(VerificationError, match="was made for pima@1, not pima@2"):
        forged.verify(other, gov.esign_key.public_key_pem())
    retargeted = ElectronicSignature(**{**forged.__dict__, "record": "pima@2"})
    with pytest.raises(VerificationError, match="does not verify"):
        retargeted.verify(other, gov.esign_key.public_key_pem())


def test_signature_verifies_offline_with_the_exported_public_key(
    gov: GovernedRegistry, tmp_path: Path
) -> None:
    ref = _register(gov)
    signature = _sign(gov, ref, Meaning.REVIEW, "quinn").history.signatures[0]
    exported = tmp_path / "esign.pub.pem"
    exported.write_bytes(gov.esign_key.public_key_pem())
    record = json.loads(json.dumps(gov.get(ref).record.document))
    again = ElectronicSignature.from_dict(json.loads(json.dumps(signature.as_dict())))
    again.verify(record, exported.read_bytes())


# -- ES-03, ES-04, ES-06, ES-07: people and credentials ----------------------------------------


def test_service_account_cannot_sign(gov: GovernedRegistry) -> None:
    ref = _register(gov)
    with pytest.raises(AccessDenied, match="pipe is a service account; service accounts cannot"):
        gov.sign(ref, Meaning.REVIEW, "pipe", PASSWORDS["pipe"])


def test_signing_requires_the_password_now(gov: GovernedRegistry) -> None:
    ref = _register(gov)
    with pytest.raises(
        AuthenticationFailed, match=r"^authentication failed for 'quinn'; 2 attempt"
    ):
        gov.sign(ref, Meaning.REVIEW, "quinn", "wrong-password-xx")
    assert gov.get(ref).state == State.VALIDATED


def test_three_failures_lock_signing_and_raise_a_security_event(gov: GovernedRegistry) -> None:
    ref = _register(gov)
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            gov.sign(ref, Meaning.REVIEW, "quinn", "wrong-password-xx")
    with pytest.raises(AuthenticationFailed, match="signing is locked for 'quinn' after 3 failed"):
        _sign(gov, ref, Meaning.REVIEW, "quinn")
    failures = [r.event for r in gov.audit.entries() if r.event.action == Action.SIGNING_FAILURE]
    assert len(failures) == 4 and all(e.outcome == Outcome.DENIED for e in failures)
    assert "signing is now locked" in dict(failures[2].details)["error"]
    assert gov.users.get("quinn").locked


def test_user_ids_are_never_reused(gov: GovernedRegistry) -> None:
    admin = gov.users.authenticate("admin", PASSWORDS["admin"])
    gov.users.disable(admin, "eve")
    with pytest.raises(
        AccessDenied, match="user id 'eve' already exists or existed; ids are never"
    ):
        gov.users.add(
            admin, "eve", "Another Eve", {Role.ML_ENGINEER}, temporary_password="temporary-password"
        )


def test_admin_reset_password_cannot_be_used_to_sign(gov: GovernedRegistry) -> None:
    ref = _register(gov)
    admin = gov.users.authenticate("admin", PASSWORDS["admin"])
    gov.users.reset_password(admin, "quinn", "admin-chosen-password")
    with pytest.raises(AccessDenied, match="still has a temporary password set by an admin"):
        gov.sign(ref, Meaning.REVIEW, "quinn", "admin-chosen-password")
    # the admin holds no signing role either
    with pytest.raises(AccessDenied, match="may not sign-review"):
        gov.sign(ref, Meaning.REVIEW, "admin", PASSWORDS["admin"])


def test_only_admins_manage_users(gov: GovernedRegistry) -> None:
    eve = gov.users.authenticate("eve", PASSWORDS["eve"])
    with pytest.raises(AccessDenied, match="may not manage-users"):
        gov.users.add(eve, "x", "X", {Role.QA_REVIEWER}, temporary_password="temporary-password")


# -- AT-01 / AT-11: the registry is a view of the audit log, and fails closed -------------------


def test_every_change_is_exactly_one_audit_event(gov: GovernedRegistry) -> None:
    start = len(gov.audit)  # after the users' own events
    ref = _release_path(gov)
    gov.transition(ref, State.RELEASED, "max", PASSWORDS["max"])
    events = [r.event for r in gov.audit.entries(start) if r.event.outcome == Outcome.SUCCESS]
    assert [(e.action.value, e.actor.id) for e in events] == [
        ("create", PIPELINE_ACTOR),
        ("state_change", PIPELINE_ACTOR),
        ("sign", "quinn"),
        ("sign", "max"),
        ("state_change", "max"),
    ]
    assert {str(e.target) for e in events} == {ref}


def test_record_without_audit_event_is_not_in_the_registry(gov: GovernedRegistry) -> None:
    gov.registry.register("pima", _fields())  # bypasses the audited path
    with pytest.raises(VerificationError, match="has a record file but no audit event"):
        gov.get("pima@1")
    assert gov.models() == []


def test_audit_log_that_cannot_be_written_refuses_the_change(
    gov: GovernedRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = _register(gov)

    real_link = os.link

    def full_audit_disk(src: str, dst: str) -> None:
        if f"{os.sep}audit{os.sep}" in str(dst):
            raise OSError(28, "No space left on device")
        real_link(src, dst)

    with monkeypatch.context() as patch:
        patch.setattr(os, "link", full_audit_disk)  # the audit volume fails, nothing else
        with pytest.raises(AuditError, match="No space left on device"):
            _sign(gov, ref, Meaning.REVIEW, "quinn")
        with pytest.raises(AuditError, match="No space left on device"):
            gov.register_model("pima", _fields(), trained_by="eve", run="r2")
    assert gov.get(ref).state == State.VALIDATED and gov.get(ref).history.signatures == ()
    # the audit event comes first, so the failed registration left no record file either
    assert [m.record.id for m in gov.models()] == ["pima@1"]
    assert [r.id for r in gov.registry.records()] == ["pima@1"]
    with pytest.raises(RegistryError, match="pima has no version 2"):
        gov.get("pima@2")


def test_authenticated_value_is_required_to_manage(gov: GovernedRegistry) -> None:
    forged = Authenticated(gov.users.get("eve"), "password")
    with pytest.raises(AccessDenied):
        UserDirectory(gov.state).add(forged, "z", "Z", {Role.AUDITOR})


def test_audit_purge_is_refused_for_every_role_and_audited(gov: GovernedRegistry) -> None:
    _register(gov)
    before = len(gov.audit)
    for user in ("admin", "max", "quinn"):  # the first 2 entries create admin and eve
        with pytest.raises(AccessDenied, match=r"^audit entries before 2 cover 2 record\(s\) that"):
            gov.purge_audit(user, PASSWORDS[user], before=2, reason="disk space")
    attempts = list(gov.audit.entries(before))
    assert [(r.event.action, r.event.outcome, r.event.actor.id) for r in attempts] == [
        (Action.PURGE_ATTEMPT, Outcome.DENIED, user) for user in ("admin", "max", "quinn")
    ]
    assert gov.get("pima@1").state == State.VALIDATED  # nothing was removed


def test_no_permission_alters_audit_data() -> None:
    granted = {p for perms in MATRIX.values() for p in perms}
    assert not {p for p in granted if "audit" in p.value} - {
        Permission.READ_AUDIT,
        Permission.EXPORT_AUDIT,
    }


def test_changes_reach_the_siem_over_udp(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import socket

    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    port = listener.getsockname()[1]
    ocsf = tmp_path / "ocsf.jsonl"
    monkeypatch.setenv("SAMDOPS_SIEM", f"syslog+udp://127.0.0.1:{port}, ocsf+file://{ocsf}")
    registry = GovernedRegistry(home)
    registry.register_model("pima", _fields(), trained_by="eve", run="run-9")
    messages = []
    try:
        while len(messages) < 3:  # create, state change, checkpoint
            messages.append(listener.recvfrom(65535)[0].decode())
    finally:
        listener.close()
    assert "CEF:0|samdops|samdops-audit|" in messages[0] and "pima@1" in messages[0]
    assert "audit:state_change|state_change pima@1" in messages[1]
    assert "checkpoint" in messages[2].lower()
    lines = ocsf.read_text().splitlines()
    assert len(lines) >= 2 and json.loads(lines[0])["class_uid"] == 6003
