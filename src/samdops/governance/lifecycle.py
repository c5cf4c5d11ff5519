"""The model lifecycle (AC-04), derived from audit events alone.

registered -> validated -> reviewed -> approved -> released -> retired, and rejected from any
state before released. A model's state is the fold of its successful lifecycle events in log
order; there is no other place where state is kept, so no change exists without its event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from samdops.audit.entry import AuditRecord
from samdops.audit.event import Action, Outcome
from samdops.errors import LifecycleError, VerificationError
from samdops.governance.signatures import ElectronicSignature


class State(StrEnum):
    REGISTERED = "registered"
    VALIDATED = "validated"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    RELEASED = "released"
    RETIRED = "retired"
    REJECTED = "rejected"


# (from, to) pairs that may happen, and nothing else: no state can be skipped.
TRANSITIONS: frozenset[tuple[State, State]] = frozenset(
    {
        (State.REGISTERED, State.VALIDATED),
        (State.VALIDATED, State.REVIEWED),
        (State.REVIEWED, State.APPROVED),
        (State.APPROVED, State.RELEASED),
        (State.RELEASED, State.RETIRED),
        *(
            (s, State.REJECTED)
            for s in (State.REGISTERED, State.VALIDATED, State.REVIEWED, State.APPROVED)
        ),
    }
)
NEXT_BY_SIGNATURE = {"review": State.REVIEWED, "approval": State.APPROVED}
MODEL_KIND = "model-registration"
PLAN_KIND = "pccp-registration"
RECORD_KINDS = frozenset({MODEL_KIND, PLAN_KIND})


def check_transition(model: str, current: State, target: State) -> None:
    """Raise :class:`LifecycleError` unless ``current -> target`` is allowed."""
    if (current, target) not in TRANSITIONS:
        allowed = sorted(t.value for s, t in TRANSITIONS if s == current) or ["none"]
        raise LifecycleError(
            f"{model} is {current.value}; it cannot become {target.value} "
            f"(allowed next: {', '.join(allowed)})"
        )


@dataclass(frozen=True)
class ModelHistory:
    """What the audit log says about one model version."""

    model: str
    kind: str
    record_sha256: str
    registered_by: str
    trained_by: str
    gate_passed: bool
    state: State
    signatures: tuple[ElectronicSignature, ...]
    events: tuple[int, ...]  # audit sequence numbers, in order
    released_with: tuple[tuple[str, str], ...] = ()  # the details of the release event

    @property
    def release_details(self) -> dict[str, str]:
        """What the event that released this version recorded (empty until released)."""
        return dict(self.released_with)

    def signers(self, meaning: str) -> set[str]:
        return {s.signer for s in self.signatures if s.meaning.value == meaning}


def _to_state(record: AuditRecord) -> State | None:
    details = dict(record.event.details)
    if record.event.action == Action.SIGN:
        return NEXT_BY_SIGNATURE.get(details.get("meaning", ""))
    if record.event.action == Action.STATE_CHANGE:
        return State(details["to"])
    return None


def histories(records: Iterable[AuditRecord]) -> dict[str, ModelHistory]:
    """Fold the audit log into one history per model version (``name@version``)."""
    out: dict[str, ModelHistory] = {}
    for record in records:
        event = record.event
        if event.outcome != Outcome.SUCCESS:
            continue
        model = str(event.target)
        details = dict(event.details)
        if event.action == Action.CREATE and details.get("kind") in RECORD_KINDS:
            if model in out:
                raise VerificationError(f"audit entry {record.seq} registers {model} twice")
            out[model] = ModelHistory(
                model=model,
                kind=details["kind"],
                record_sha256=str(event.new_hash),
                registered_by=event.actor.id,
                trained_by=details.get("trained_by", event.actor.id),
                gate_passed=details.get("gate") == "passed",
                state=State.REGISTERED,
                signatures=(),
                events=(record.seq,),
            )
            continue
        history = out.get(model)
        if history is None:
            continue
        signatures = history.signatures
        if event.action == Action.SIGN:
            signatures = (
                *signatures,
                ElectronicSignature.from_dict(
                    {k.removeprefix("sig."): v for k, v in details.items() if k.startswith("sig.")}
                ),
            )
        state = history.state
        released_with = history.released_with
        target = _to_state(record)
        if target is not None:
            check_transition(model, state, target)
            state = target
            if target == State.RELEASED:
                released_with = tuple(sorted(details.items()))
        out[model] = ModelHistory(
            model=history.model,
            kind=history.kind,
            record_sha256=history.record_sha256,
            registered_by=history.registered_by,
            trained_by=history.trained_by,
            gate_passed=history.gate_passed,
            state=state,
            signatures=signatures,
            events=(*history.events, record.seq),
            released_with=released_with,
        )
    return out
