"""The governed registry: registrations, gate results, signatures and state changes as audit events.

Every change is appended to the audit log first (AT-11: if the append fails, nothing changes) and
a model's state and signatures are read back from the log (AT-01). Registration record files are
write-once; a record whose bytes no longer match the digest its audit event recorded is refused.
Refused attempts (wrong role, separation of duties, skipped state, bad password) are audited with
outcome ``denied``; a lockout is a high-severity security event (ES-06). The users who sign are
audited in the same log (:mod:`.identity`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from samdops import settings
from samdops.audit.anchor import anchor_sinks
from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Outcome, Source, SourceKind
from samdops.audit.event import Target as AuditTarget
from samdops.audit.log import AuditLog
from samdops.audit.siem import EventSink, sink_from_url
from samdops.audit.signer import Signer
from samdops.audit.store import state_entry_store
from samdops.clock import utc_timestamp
from samdops.errors import (
    AccessDenied,
    LifecycleError,
    VerificationError,
)
from samdops.governance.identity import AUDIT_KEY_NAME, Authenticated, UserDirectory, UserKind
from samdops.governance.keys import platform_signer
from samdops.governance.lifecycle import (
    MODEL_KIND,
    ModelHistory,
    State,
    check_transition,
    histories,
)
from samdops.governance.records import Registry, RegistryRecord
from samdops.governance.roles import Permission, Role, require
from samdops.governance.signatures import Meaning, record_digest, sign_record
from samdops.governance.text import check_text
from samdops.store.state import StateLocation, open_state

PIPELINE_ACTOR = "svc:samdops-pipeline"
SYSTEM_ACTOR = "svc:samdops"  # automatic checks made by samdops itself
ESIGN_KEY_NAME = "esign-ed25519.pem"
MAX_REASON_LENGTH = 1000
_SIGN_PERMISSION = {
    Meaning.AUTHORSHIP: Permission.SIGN_AUTHORSHIP,
    Meaning.REVIEW: Permission.SIGN_REVIEW,
    Meaning.APPROVAL: Permission.SIGN_APPROVAL,
    Meaning.RESPONSIBILITY: Permission.RELEASE,
}
_T = TypeVar("_T")


def sinks_from_env() -> list[EventSink]:
    """SIEM destinations from ``$SAMDOPS_SIEM``: comma-separated ``syslog+udp://HOST:PORT``,
    ``syslog+tcp://HOST:PORT`` or ``ocsf+file:///PATH`` (see :func:`sink_from_url`), and the
    audit witness of ``$SAMDOPS_AUDIT_WITNESS`` (see :mod:`samdops.audit.anchor`)."""
    return [sink_from_url(url) for url in settings.siem_destinations()] + anchor_sinks()


@dataclass(frozen=True)
class GovernedModel:
    """A registration record with the state and signatures the audit log gives it."""

    record: RegistryRecord
    history: ModelHistory

    @property
    def state(self) -> State:
        return self.history.state

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.record.id,
            "name": self.record.name,
            "version": self.record.version,
            "state": self.state.value,
            "model_sha256": self.record.model_sha256,
            "record_sha256": self.history.record_sha256,
            "gate_passed": self.history.gate_passed,
            "registered_at": self.record.document["registered_at"],
            "trained_by": self.history.trained_by,
            "signatures": [
                {**s.as_dict(), "display": s.display()} for s in self.history.signatures
            ],
        }


class GovernedRegistry:
    """The registry as a view of the audit log, with the lifecycle and e-signatures."""

    def __init__(
        self,
        location: str | Path | StateLocation | None = None,
        *,
        esign_key: Signer | None = None,
        audit_key: Signer | None = None,
        sinks: Sequence[EventSink] | None = None,
    ) -> None:
        self.state = open_state(location)
        self.registry = Registry(self.state)
        self.audit_key = audit_key or platform_signer(self.state, AUDIT_KEY_NAME)
        self.esign_key = esign_key or platform_signer(self.state, ESIGN_KEY_NAME)
        sinks = sinks_from_env() if sinks is None else sinks
        self.audit = AuditLog(state_entry_store(self.state), signer=self.audit_key, sinks=sinks)
        self.users = UserDirectory(self.state, audit=self.audit)

    # -- the pipeline --------------------------------------------------------------------------

    def register_model(
        self, name: str, fields: dict[str, Any], *, trained_by: str, run: str
    ) -> RegistryRecord:
        """Register a model version (and its gate result) as the pipeline service account."""
        require(PIPELINE_ACTOR, frozenset({Role.PIPELINE}), Permission.REGISTER_MODEL)
        record = self.registry.register(name, fields)
        change = record.document.get("pccp") or {}
        passed = record.document["gate"]["passed"] and change.get("outcome", "candidate") == (
            "candidate"
        )
        gate = "passed" if passed else "failed"
        target = AuditTarget(record.name, str(record.version))

        def record_event(
            action: Action, details: dict[str, str], new_hash: str | None = None
        ) -> None:
            self.audit.append(
                EventDraft(
                    actor=Actor(PIPELINE_ACTOR, AuthMethod.SERVICE_ACCOUNT_TOKEN),
                    action=action,
                    target=target,
                    source=Source(SourceKind.PIPELINE_RUN, run or "unknown"),
                    details=details,
                    new_hash=new_hash,
                )
            )

        record_event(
            Action.CREATE,
            {"kind": MODEL_KIND, "gate": gate, "trained_by": trained_by},
            new_hash=record_digest(record.document),
        )
        for check in change.get("checks", ()):  # each PCCP check, with its numbers (PCCP-02)
            record_event(
                Action.CREATE,
                {
                    "kind": "pccp-check",
                    "plan": str(change.get("plan")),
                    "check": str(check["name"]),
                    "passed": str(check["passed"]).lower(),
                    "detail": str(check["detail"])[:4000],
                },
            )
        if gate == "passed":
            record_event(
                Action.STATE_CHANGE, {"from": "registered", "to": "validated", "why": "gate passed"}
            )
        self.audit.checkpoint()
        return record

    # -- reading -------------------------------------------------------------------------------

    def models(self) -> list[GovernedModel]:
        """Every registered model version the audit log knows, verified against its record."""
        return [self._governed(h) for h in histories(self.audit.entries()).values()]

    def get(self, ref: str) -> GovernedModel:
        """A model by ``name@version``, ``name`` (latest version) or ``latest``."""
        record = self.registry.get(ref)
        history = histories(self.audit.entries()).get(record.id)
        if history is None:
            raise VerificationError(
                f"{record.id} has a record file but no audit event: it was never registered "
                "through the audited path and is not part of the registry"
            )
        return self._governed(history, record)

    def _governed(
        self, history: ModelHistory, record: RegistryRecord | None = None
    ) -> GovernedModel:
        record = record or self.registry.get(history.model)
        actual = record_digest(record.document)
        if actual != history.record_sha256:
            raise VerificationError(
                f"record {record.id} hashes to {actual}, but its audit event recorded "
                f"{history.record_sha256}: the record was changed after registration"
            )
        for signature in history.signatures:
            signature.verify(record.document, self.esign_key.public_key_pem())
        return GovernedModel(record, history)

    # -- people --------------------------------------------------------------------------------

    def sign(
        self, ref: str, meaning: Meaning, user_id: str, password: str, *, source: str = "cli"
    ) -> GovernedModel:
        """Sign a model version with ``meaning`` after re-authenticating ``user_id``."""
        model = self.get(ref)
        target = AuditTarget(model.record.name, str(model.record.version))
        who = self._authenticate(user_id, password, target, source)

        def checks() -> None:
            self._signer_checks(who, model, meaning)

        self._guarded(checks, who, target, source, f"sign:{meaning.value}")
        signature = sign_record(
            model.record.document,
            meaning=meaning,
            signer_id=who.user.id,
            name=who.user.name,
            signed_at=utc_timestamp(),
            key=self.esign_key,
        )
        details = {f"sig.{k}": v for k, v in signature.as_dict().items()}
        self._person_event(
            who.user.id,
            Action.SIGN,
            target,
            source,
            prev_hash=model.history.record_sha256,
            new_hash=signature.digest,
            details={"meaning": meaning.value, **details},
        )
        self.audit.checkpoint()
        return self.get(model.record.id)

    def transition(
        self,
        ref: str,
        to: State,
        user_id: str,
        password: str,
        *,
        reason: str | None = None,
        source: str = "cli",
    ) -> GovernedModel:
        """Release, retire or reject a model version (re-authenticated, audited)."""
        if reason is not None:
            check_text("reason", reason, max_length=MAX_REASON_LENGTH)
        model = self.get(ref)
        target = AuditTarget(model.record.name, str(model.record.version))
        who = self._authenticate(user_id, password, target, source)
        permission = {
            State.RELEASED: Permission.RELEASE,
            State.RETIRED: Permission.RETIRE,
            State.REJECTED: Permission.REJECT,
        }.get(to)

        def checks() -> None:
            if permission is None:
                raise LifecycleError(
                    f"{to.value} is reached by a signature or the pipeline, not by promote"
                )
            require(who.user.id, who.user.roles, permission)
            if to == State.RELEASED:
                _refuse_outside_plan(model)
            check_transition(model.record.id, model.state, to)
            if to in (State.RETIRED, State.REJECTED) and not (reason and reason.strip()):
                raise LifecycleError(f"a reason is required to make {model.record.id} {to.value}")

        self._guarded(checks, who, target, source, f"promote:{to.value}")
        self._person_event(
            who.user.id,
            Action.STATE_CHANGE,
            target,
            source,
            details={"from": model.state.value, "to": to.value, "why": reason or to.value},
        )
        self.audit.checkpoint()
        return self.get(model.record.id)

    def purge_audit(self, user_id: str, password: str, *, before: int, reason: str) -> None:
        """Refuse, and audit, an attempt to purge audit entries (AT-06, AT-07).

        Audit data is retained at least as long as the records it covers, and records are
        never deleted by samdops, so every purge is early: no role may purge.
        """
        check_text("reason", reason, max_length=MAX_REASON_LENGTH)
        target = AuditTarget("audit-log", str(len(self.audit)))
        who = self._authenticate(user_id, password, target, "purge")
        covered = sorted({str(r.event.target) for r in self.audit.entries(0, before)})
        message = (
            f"audit entries before {before} cover {len(covered)} record(s) that are still "
            "retained; audit data is kept at least as long as the records it covers (AT-07) "
            "and no role may purge it"
        )
        self._person_event(
            who.user.id,
            Action.PURGE_ATTEMPT,
            target,
            "purge",
            outcome=Outcome.DENIED,
            reason=reason or "none given",
            details={"before": str(before), "error": message},
        )
        raise AccessDenied(message)

    def _person_event(
        self,
        actor: str,
        action: Action,
        target: AuditTarget,
        source: str,
        **fields: Any,
    ) -> None:
        """Append an event done by a person (authenticated by password) from the CLI."""
        self.audit.append(
            EventDraft(
                actor=Actor(actor, AuthMethod.PASSWORD),
                action=action,
                target=target,
                source=Source(SourceKind.CLI, source),
                **fields,
            )
        )

    def _authenticate(
        self, user_id: str, password: str, target: AuditTarget, source: str
    ) -> Authenticated:
        """Re-authenticate for ``target``; a refusal is audited by the user directory."""
        return self.users.authenticate(user_id, password, target=target, source=source)

    def _guarded(
        self,
        checks: Callable[[], None],
        who: Authenticated,
        target: AuditTarget,
        source: str,
        attempted: str,
    ) -> None:
        """Run ``checks``; record a refusal as a denied event and re-raise it."""
        try:
            checks()
        except (AccessDenied, LifecycleError) as exc:
            self._person_event(
                who.user.id,
                Action.STATE_CHANGE,
                target,
                source,
                outcome=Outcome.DENIED,
                details={"attempted": attempted, "error": str(exc)},
            )
            raise

    @staticmethod
    def _signer_checks(who: Authenticated, model: GovernedModel, meaning: Meaning) -> None:
        user, history = who.user, model.history
        _refuse_outside_plan(model)
        if user.kind == UserKind.SERVICE:
            raise AccessDenied(f"{user.id} is a service account; service accounts cannot sign")
        require(user.id, user.roles, _SIGN_PERMISSION[meaning])
        if meaning == Meaning.AUTHORSHIP and user.id != history.trained_by:
            raise AccessDenied(f"only {history.trained_by}, who trained it, can sign authorship")
        if meaning in (Meaning.REVIEW, Meaning.APPROVAL):
            if user.id in (history.trained_by, history.registered_by):
                raise AccessDenied(
                    f"{user.id} trained or registered {history.model} and cannot "
                    f"{meaning.value} it (separation of duties)"
                )
            if meaning == Meaning.APPROVAL and user.id in history.signers("review"):
                raise AccessDenied(
                    f"{user.id} reviewed {history.model}; the approver must be someone else"
                )
            if not history.gate_passed:
                raise LifecycleError(
                    f"{history.model} failed its acceptance gate and cannot be "
                    f"{'reviewed' if meaning == Meaning.REVIEW else 'approved'}"
                )
            target = State.REVIEWED if meaning == Meaning.REVIEW else State.APPROVED
            check_transition(history.model, history.state, target)


def _refuse_outside_plan(model: GovernedModel) -> None:
    change = model.record.document.get("pccp") or {}
    if change.get("outcome") == "outside-plan":
        raise LifecycleError(
            f"{model.record.id} changes what PCCP {change.get('plan')} allows: it needs a new "
            "regulatory submission and cannot be released under the plan by any signature"
        )
