"""Issue #16, fail closed: no audit entry stays uncovered by a signed checkpoint once a change
returns, deleting the tail is caught, a killed writer's leftovers are recovered, and a failing
audit store leaves no registry record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Source, SourceKind, Target
from samdops.audit.log import RECOVERY_ACTOR, RECOVERY_KIND, AuditLog
from samdops.audit.store import DocumentEntryStore, state_entry_store
from samdops.cli import main
from samdops.errors import AccessDenied, AuditError, LifecycleError, RegistryError
from samdops.governance.lifecycle import State
from samdops.governance.records import Registry
from samdops.governance.roles import Role
from samdops.governance.service import RECOVERED_WHY, SYSTEM_ACTOR, GovernedRegistry
from samdops.governance.signatures import Meaning
from tests.governed import PASSWORDS, staffed_registry
from tests.governed import model_fields as _fields

ROLES = {"eve": {Role.ML_ENGINEER}, "quinn": {Role.QA_REVIEWER}, "max": {Role.RELEASE_MANAGER}}


class Killed(BaseException):
    """Stands for SIGKILL: nothing after the point it is raised runs, no handler catches it."""


@pytest.fixture
def gov(home: Path) -> GovernedRegistry:
    return staffed_registry(home, ROLES)


def _register(gov: GovernedRegistry, gate_passed: bool = True) -> str:
    ident: str = gov.register_model("pima", _fields(gate_passed), trained_by="eve", run="r1").id
    return ident


def _verify(home: Path) -> int:
    """The exit status of ``samdops audit verify`` against the local key."""
    pem = home.parent / "trusted.pem"
    pem.write_bytes(GovernedRegistry(home, sinks=[]).audit_key.public_key_pem())
    status: int = main(["audit", "verify", "--state", str(home), "--public-key", str(pem)])
    return status


def _covered(gov: GovernedRegistry) -> None:
    """Every entry of the log is under its latest signed checkpoint, which verifies."""
    log = GovernedRegistry(gov.state, sinks=[]).audit
    assert list(log.uncovered()) == []
    verified = log.verify(gov.audit_key.public_key_pem())
    assert verified.unanchored == 0 and verified.size == len(log)


def _last_entry(gov: GovernedRegistry) -> Path:
    directory: Path | None = gov.state.directory
    assert directory is not None
    return directory / "audit" / "entries" / f"{len(gov.audit) - 1:012d}.entry"


# -- every append path ends covered ------------------------------------------------------------


def _refused_release(gov: GovernedRegistry, ref: str) -> None:
    gov.transition(ref, State.RELEASED, "max", PASSWORDS["max"])  # skips review and approval


def _refused_review(gov: GovernedRegistry, ref: str) -> None:
    gov.sign(ref, Meaning.REVIEW, "eve", PASSWORDS["eve"])  # eve trained it, and is no reviewer


def _refused_purge(gov: GovernedRegistry, ref: str) -> None:
    gov.purge_audit("admin", PASSWORDS["admin"], before=1, reason="tidy up")


REFUSALS: dict[str, tuple[Callable[[GovernedRegistry, str], None], type[Exception]]] = {
    "promote past the lifecycle": (_refused_release, LifecycleError),
    "sign without the role": (_refused_review, AccessDenied),
    "purge the audit log": (_refused_purge, AccessDenied),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_a_refused_attempt_is_checkpointed_before_it_raises(
    gov: GovernedRegistry, name: str
) -> None:
    ref = _register(gov)
    before = len(gov.audit)
    attempt, error = REFUSALS[name]
    with pytest.raises(error):
        attempt(gov, ref)
    denied = list(gov.audit.entries(before))
    assert denied and denied[-1].event.outcome.value == "denied"
    _covered(gov)


@pytest.mark.parametrize("name", REFUSALS)
def test_deleting_a_refused_attempt_is_caught_by_audit_verify(
    gov: GovernedRegistry, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = _register(gov)
    attempt, error = REFUSALS[name]
    with pytest.raises(error):
        attempt(gov, ref)
    home = gov.state.directory
    assert home is not None
    assert _verify(home) == 0
    assert "0 entries after the latest checkpoint" in capsys.readouterr().out
    _last_entry(gov).unlink()  # the attacker removes the trace of the refusal
    assert _verify(home) == 2
    assert "missing (truncated)" in capsys.readouterr().err


def test_signing_and_promoting_are_checkpointed(gov: GovernedRegistry) -> None:
    ref = _register(gov)
    _covered(gov)
    gov.sign(ref, Meaning.REVIEW, "quinn", PASSWORDS["quinn"])
    _covered(gov)
    gov.transition(ref, State.REJECTED, "max", PASSWORDS["max"], reason="superseded")
    _covered(gov)


def test_an_append_on_a_signed_log_is_covered_when_it_returns(
    home: Path, gov: GovernedRegistry
) -> None:
    log = AuditLog(state_entry_store(gov.state), signer=gov.audit_key)
    log.append(
        EventDraft(
            actor=Actor("svc:test", AuthMethod.SERVICE_ACCOUNT_TOKEN),
            action=Action.CREATE,
            target=Target("note", "1"),
            source=Source(SourceKind.CLI, "test"),
        )
    )
    _covered(gov)


# -- the audit store fails during register: no record ------------------------------------------


@pytest.mark.parametrize("fails", ["create_if_absent", "read_current"])
def test_a_failing_audit_store_during_register_leaves_no_record(
    gov: GovernedRegistry, monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    size = len(gov.audit)
    real = getattr(DocumentEntryStore, fails)

    def broken(self: DocumentEntryStore, seq: int, *args: Any) -> Any:
        if seq >= size:
            raise AuditError("the audit store does not answer")
        return real(self, seq, *args)

    monkeypatch.setattr(DocumentEntryStore, fails, broken)
    with pytest.raises(AuditError, match="does not answer"):
        _register(gov)
    monkeypatch.undo()
    assert Registry(gov.state).records() == []
    directory = gov.state.directory
    assert directory is not None and not (directory / "registry" / "models").exists()
    assert len(GovernedRegistry(gov.state, sinks=[]).audit) == size
    _covered(gov)


# -- recovery ----------------------------------------------------------------------------------


def test_recovery_signs_the_checkpoint_covering_a_killed_writers_entries(
    gov: GovernedRegistry,
) -> None:
    ref = _register(gov)
    covered = len(gov.audit)
    bare = AuditLog(state_entry_store(gov.state))  # a writer killed before its checkpoint
    for i in range(2):
        bare.append(
            EventDraft(
                actor=Actor("svc:killed", AuthMethod.SERVICE_ACCOUNT_TOKEN),
                action=Action.CREATE,
                target=Target("note", str(i)),
                source=Source(SourceKind.CLI, "test"),
            )
        )
    assert list(bare.uncovered()) == [covered, covered + 1]

    fresh = GovernedRegistry(gov.state, sinks=[])
    assert fresh.recover() == [f"signed the audit checkpoint at size {covered + 3}"]
    recovery = fresh.audit.record(covered + 2).event
    assert recovery.actor.id == RECOVERY_ACTOR
    assert recovery.detail_map()["kind"] == RECOVERY_KIND
    assert recovery.detail_map()["uncovered_from"] == str(covered)
    assert recovery.detail_map()["uncovered_to"] == str(covered + 1)
    _covered(gov)
    assert GovernedRegistry(gov.state, sinks=[]).recover() == []  # once only
    assert fresh.get(ref).state == State.VALIDATED


def test_recovery_validates_a_model_killed_before_its_gate_transition(
    gov: GovernedRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def killed(*_: Any, **__: Any) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(GovernedRegistry, "validate_once", killed)
        patch.setattr(AuditLog, "checkpoint", killed)
        with pytest.raises(Killed):
            _register(gov)
    stuck = GovernedRegistry(gov.state, sinks=[])
    assert stuck.get("pima@1").state == State.REGISTERED  # gate passed, transition lost
    assert list(stuck.audit.uncovered())

    done = stuck.recover()
    assert done[1:] == ["made pima@1 validated (its gate passed)"]
    model = GovernedRegistry(gov.state, sinks=[]).get("pima@1")
    assert model.state == State.VALIDATED
    last = stuck.audit.record(model.history.events[-1]).event
    assert (last.actor.id, last.detail_map()["why"]) == (SYSTEM_ACTOR, RECOVERED_WHY)
    _covered(gov)


def test_recovery_leaves_a_failed_gate_registered(
    gov: GovernedRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(AuditLog, "checkpoint", lambda *_: (_ for _ in ()).throw(Killed()))
        with pytest.raises(Killed):
            _register(gov, gate_passed=False)
    fresh = GovernedRegistry(gov.state, sinks=[])
    assert len(fresh.recover()) == 1  # only the checkpoint
    assert fresh.get("pima@1").state == State.REGISTERED
    _covered(gov)


def test_recovery_restores_the_record_of_a_writer_killed_after_its_audit_event(
    gov: GovernedRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def killed(*_: Any, **__: Any) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(Registry, "store_record", killed)
        patch.setattr(AuditLog, "checkpoint", killed)
        with pytest.raises(Killed):
            _register(gov)
    assert Registry(gov.state).records() == []  # the event is there, the file is not
    fresh = GovernedRegistry(gov.state, sinks=[])
    with pytest.raises(RegistryError):
        fresh.get("pima@1")
    assert fresh.recover()[1:] == [
        "restored the record file of pima@1",
        "made pima@1 validated (its gate passed)",
    ]
    model = GovernedRegistry(gov.state, sinks=[]).get("pima@1")
    assert model.state == State.VALIDATED and model.record.document["gate"]["passed"] is True
    _covered(gov)
    assert _register(gov) == "pima@2"  # the next registration takes the next version


def test_recovery_refuses_a_log_whose_covered_tail_was_deleted(gov: GovernedRegistry) -> None:
    _register(gov)
    _last_entry(gov).unlink()
    with pytest.raises(AuditError, match="entries were deleted"):
        GovernedRegistry(gov.state, sinks=[]).recover()
    with pytest.raises(AuditError, match="entries were deleted"):
        _register(GovernedRegistry(gov.state, sinks=[]))  # the next command


def test_recovery_with_nothing_to_do_writes_nothing(tmp_path: Path) -> None:
    assert GovernedRegistry(tmp_path, sinks=[]).recover() == []
    assert not (tmp_path / "keys").exists() and not (tmp_path / "audit").exists()
