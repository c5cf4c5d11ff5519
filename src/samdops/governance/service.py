"""The governed registry: registrations, gate results, signatures and state changes as audit events.

Every change is appended to the audit log first (AT-11: if the append fails, nothing changes) and
a model's state and signatures are read back from the log (AT-01). Registration record files are
write-once; a record whose bytes no longer match the digest its audit event recorded is refused.
Refused attempts (wrong role, separation of duties, skipped state, bad password) are audited with
outcome ``denied``; a lockout is a high-severity security event (ES-06). The users who sign are
audited in the same log (:mod:`.identity`).

Fail closed, also when killed (issue #16). A registration is audited first: the record's bytes
go to the content-addressed store, its CREATE event (which pins their digest) is appended, and
only then is the write-once record file created. A failure before the event leaves no record
and no entry; a process killed after it leaves a state that :meth:`GovernedRegistry.recover`
completes. Every change runs in :meth:`GovernedRegistry.changing`: it recovers first, and every
entry it appends is covered by a signed checkpoint before it returns (also when it raises).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from samdops import settings
from samdops.audit.activity import query
from samdops.audit.anchor import anchor_sinks
from samdops.audit.entry import AuditRecord
from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Outcome, Source, SourceKind
from samdops.audit.event import Target as AuditTarget
from samdops.audit.log import AuditLog
from samdops.audit.siem import EventSink, sink_from_url
from samdops.audit.signer import Signer
from samdops.audit.store import state_entry_store
from samdops.clock import utc_timestamp
from samdops.digest import canonical_json
from samdops.errors import (
    AccessDenied,
    LifecycleError,
    RegistryError,
    SamdopsError,
    StoreError,
    VerificationError,
)
from samdops.governance.identity import (
    AUDIT_KEY_NAME,
    OS_PREFIX,
    Authenticated,
    UserDirectory,
    UserKind,
)
from samdops.governance.keys import platform_signer
from samdops.governance.launch import os_account
from samdops.governance.lifecycle import (
    MODEL_KIND,
    RECORD_KINDS,
    ModelHistory,
    State,
    check_transition,
    histories,
)
from samdops.governance.model_signature import sign_model_bytes
from samdops.governance.records import Registry, RegistryRecord
from samdops.governance.roles import Permission, Role, require
from samdops.governance.signatures import Meaning, record_digest, sign_record
from samdops.governance.text import check_text
from samdops.store.state import StateLocation, open_state

PIPELINE_ACTOR = "svc:samdops-pipeline"
SYSTEM_ACTOR = "svc:samdops"  # automatic checks made by samdops itself
ESIGN_KEY_NAME = "esign-ed25519.pem"
MAX_REASON_LENGTH = 1000
MAX_VERSION_ATTEMPTS = 100
REGISTRY_QUERY = "registry/models"  # what a registry query reads (its audit target)
RECOVERED_WHY = "gate passed (completed by recovery: the registering run stopped before this)"
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
class Reader:
    """A person who asks to read, as signed in (:meth:`GovernedRegistry.sign_in_reader`) or, while
    the state location has no users, the OS account (:meth:`GovernedRegistry.os_reader`).

    ``roles`` is None for the OS account: the embedded default has no roles to check, and
    :meth:`GovernedRegistry.authorize_read` refuses it once the state location has users.
    """

    id: str
    auth: AuthMethod
    roles: frozenset[Role] | None
    service: bool = False  # a service account's password, typed at the CLI

    @property
    def actor(self) -> Actor:
        return Actor(self.id, self.auth)


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

    # -- recovery ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def changing(self) -> Iterator[None]:
        """A change: :meth:`recover` first; every entry appended inside is checkpointed at exit."""
        self.recover()
        with self.audit.covered():
            yield

    def recover(self) -> list[str]:
        """Complete what an interrupted writer left behind; return what was done.

        Called before every change and by a run's preflight; with nothing to do it writes
        nothing (not even a key).

        1. Audit entries after the latest checkpoint are recorded in an ``audit-recovery`` event
           and covered by a signed checkpoint (:meth:`AuditLog.recover`).
        2. A registration whose CREATE event exists but whose record file does not (the writer
           stopped between the two) gets its file back from the content-addressed copy of the
           exact bytes the event's digest names, stored before the event. Without that copy the
           model is left alone and :meth:`get` reports it.
        3. A registration whose audited gate result passed but which is still ``registered``
           (the writer stopped before the gate's transition) is made ``validated`` by
           ``svc:samdops``, the event saying that recovery completed it. For a regulated
           registry this is correct, not a shortcut: the transition decides nothing, it follows
           from the gate result the CREATE event already committed, and the record it pins holds
           the evidence (criteria, PCCP checks, whose per-check events may be missing). Nothing
           a person decides (a signature, a release) is ever completed by recovery.

        Steps 2 and 3 are idempotent against a registering run that is still alive: the record
        bytes are the same, and :meth:`validate_once` appends one transition, whoever is first.
        """
        done = []
        checkpoint = self.audit.recover()
        if checkpoint is not None:
            done.append(f"signed the audit checkpoint at size {checkpoint.size}")
        for history in histories(self.audit.entries()).values():
            name, _, version = history.model.rpartition("@")
            if version.isdigit() and not self.registry.has_record(name, int(version)):
                try:
                    data = self.registry.store.get_bytes(history.record_sha256)
                except SamdopsError:
                    continue  # reported by get(): a registration without its record
                record = RegistryRecord(json.loads(data))
                if record.id == history.model and self.registry.store_record(record):
                    done.append(f"restored the record file of {record.id}")
            if history.gate_passed and history.state == State.REGISTERED:
                target = _target(history.model)
                draft = EventDraft(
                    actor=Actor(SYSTEM_ACTOR, AuthMethod.SERVICE_ACCOUNT_TOKEN),
                    action=Action.STATE_CHANGE,
                    target=target,
                    source=Source(SourceKind.CLI, "recovery"),
                    details={"from": "registered", "to": "validated", "why": RECOVERED_WHY},
                )
                with self.audit.covered():
                    if self.validate_once(history.model, draft) is not None:
                        done.append(f"made {history.model} validated (its gate passed)")
        return done

    def claim(
        self, name: str, fields: dict[str, Any], created: Callable[[RegistryRecord], EventDraft]
    ) -> RegistryRecord:
        """Register the next version of ``name``: audit event first, then the record file.

        1. The record's bytes go to the content-addressed store (for :meth:`recover`).
        2. Its CREATE event ``created(record)`` is appended unless the log already registers
           that version (then the next one is tried). A failure here leaves no record.
        3. The write-once record file is created.
        """
        for _ in range(MAX_VERSION_ATTEMPTS):
            taken = _registered_versions(self.audit.entries(), name)
            version = self.registry.next_version(name, taken)
            record = self.registry.new_record(name, version, fields)
            self.registry.store.put_bytes(canonical_json(record.document))
            draft = created(record)

            def make(
                records: Sequence[AuditRecord], ident: str = record.id, draft: EventDraft = draft
            ) -> EventDraft | None:
                return None if _is_registered(records, ident) else draft

            if self.audit.append_if(make) is not None:
                self.registry.store_record(record)
                return record
        raise RegistryError(f"could not claim a version of {name}: the registry is too busy")

    def validate_once(self, model: str, draft: EventDraft) -> AuditRecord | None:
        """Append the transition ``draft`` of ``model`` to validated, unless it is no longer
        registered (a recovery or the registering run made it already)."""

        def make(records: Sequence[AuditRecord]) -> EventDraft | None:
            history = histories(records).get(model)
            return draft if history is not None and history.state == State.REGISTERED else None

        return self.audit.append_if(make)

    # -- the pipeline --------------------------------------------------------------------------

    def register_model(
        self, name: str, fields: dict[str, Any], *, trained_by: str, run: str
    ) -> RegistryRecord:
        """Register a model version (and its gate result) as the pipeline service account."""
        require(PIPELINE_ACTOR, frozenset({Role.PIPELINE}), Permission.REGISTER_MODEL)
        change = fields.get("pccp") or {}
        passed = fields["gate"]["passed"] and change.get("outcome", "candidate") == "candidate"
        gate = "passed" if passed else "failed"

        def event(
            record: RegistryRecord,
            action: Action,
            details: dict[str, str],
            new_hash: str | None = None,
        ) -> EventDraft:
            return EventDraft(
                actor=Actor(PIPELINE_ACTOR, AuthMethod.SERVICE_ACCOUNT_TOKEN),
                action=action,
                target=AuditTarget(record.name, str(record.version)),
                source=Source(SourceKind.PIPELINE_RUN, run or "unknown"),
                details=details,
                new_hash=new_hash,
            )

        def created(record: RegistryRecord) -> EventDraft:
            details = {"kind": MODEL_KIND, "gate": gate, "trained_by": trained_by}
            return event(record, Action.CREATE, details, record_digest(record.document))

        with self.changing():
            record = self.claim(name, fields, created)
            for check in change.get("checks", ()):  # each PCCP check, with its numbers (PCCP-02)
                details = {
                    "kind": "pccp-check",
                    "plan": str(change.get("plan")),
                    "check": str(check["name"]),
                    "passed": str(check["passed"]).lower(),
                    "detail": str(check["detail"])[:4000],
                }
                self.audit.append(event(record, Action.CREATE, details))
            if passed:
                transition = {"from": "registered", "to": "validated", "why": "gate passed"}
                self.validate_once(record.id, event(record, Action.STATE_CHANGE, transition))
        return record

    # -- reading -------------------------------------------------------------------------------
    # models() and get() are the reads the system makes for itself (pipeline steps, the serving
    # gate, package export): unchecked and unaudited. A person reads through a Reader:
    # query_models(), show(), or authorize_read() + record_query() for other reads.

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

    # -- reads by people ---------------------------------------------------------------------

    def sign_in_reader(self, user_id: str, password: str, *, source: str) -> Reader:
        """The reader ``user_id`` after checking both components; a failure (wrong password,
        disabled, locked, unknown) is refused and audited as every sign-in failure is."""
        who = self.users.authenticate(user_id, password, source=source)
        user = who.user
        return Reader(user.id, AuthMethod.PASSWORD, user.roles, user.kind == UserKind.SERVICE)

    @staticmethod
    def os_reader() -> Reader:
        """The OS account of this process as reader (``os:<name>``, from the uid, as the launcher
        records it); :meth:`authorize_read` accepts it only while the state has no users."""
        return Reader(f"{OS_PREFIX}{os_account()}", AuthMethod.LOCAL_OS_USER, None)

    def authorize_read(
        self,
        reader: Reader,
        permission: Permission,
        what: str,
        *,
        source: str,
        filters: Mapping[str, str] | None = None,
    ) -> None:
        """Raise :class:`AccessDenied` unless ``reader`` may read ``what`` with ``permission``; a
        refusal is first appended as a denied query of ``what`` (kind security)."""
        try:
            if reader.roles is None:
                if self.users.users():
                    raise AccessDenied(
                        "this state location has users: sign in to read "
                        "(--user ID --password-stdin)"
                    )
                return
            if reader.service:
                raise AccessDenied(f"{reader.id} is a service account; a person signs in to read")
            require(reader.id, reader.roles, permission)
        except AccessDenied as exc:
            draft = query(
                reader.actor,
                what,
                source=Source(SourceKind.CLI, source),
                filters=filters,
                outcome=Outcome.DENIED,
                details={"permission": permission.value, "error": str(exc)},
            )
            self.audit.append(draft)
            raise

    def record_query(
        self,
        reader: Reader,
        what: str,
        *,
        source: str,
        filters: Mapping[str, str] | None = None,
        results: int,
    ) -> None:
        """Append ``reader``'s successful query of ``what`` (before its answer is shown)."""
        source_ = Source(SourceKind.CLI, source)
        draft = query(reader.actor, what, source=source_, filters=filters, results=results)
        self.audit.append(draft)

    def query_models(
        self, reader: Reader, *, source: str = "samdops registry list"
    ) -> list[GovernedModel]:
        """:meth:`models` for a person: authorized (``read-registry``) and audited."""
        self.authorize_read(reader, Permission.READ_REGISTRY, REGISTRY_QUERY, source=source)
        found = self.models()
        self.record_query(reader, REGISTRY_QUERY, source=source, results=len(found))
        return found

    def show(
        self, reader: Reader, ref: str, *, source: str = "samdops registry show"
    ) -> GovernedModel:
        """:meth:`get` for a person: authorized (``read-registry``) and audited; a lookup that
        finds nothing is audited with outcome ``failure``."""
        filters = {"model": ref[:MAX_REASON_LENGTH]}  # what was asked, clipped to fit an event
        self.authorize_read(
            reader, Permission.READ_REGISTRY, REGISTRY_QUERY, source=source, filters=filters
        )
        try:
            model = self.get(ref)
        except SamdopsError as exc:
            draft = query(
                reader.actor,
                REGISTRY_QUERY,
                source=Source(SourceKind.CLI, source),
                filters=filters,
                outcome=Outcome.FAILURE,
                results=0,
                details={"error": str(exc)[:4000]},
            )
            self.audit.append(draft)
            raise
        self.record_query(reader, REGISTRY_QUERY, source=source, filters=filters, results=1)
        return model

    # -- people --------------------------------------------------------------------------------

    def sign(
        self, ref: str, meaning: Meaning, user_id: str, password: str, *, source: str = "cli"
    ) -> GovernedModel:
        """Sign a model version with ``meaning`` after re-authenticating ``user_id``."""
        with self.changing():
            model = self._sign(ref, meaning, user_id, password, source)
        return self.get(model.record.id)

    def _sign(
        self, ref: str, meaning: Meaning, user_id: str, password: str, source: str
    ) -> GovernedModel:
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
        return model

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
        with self.changing():
            model = self._transition(ref, to, user_id, password, reason, source)
        return self.get(model.record.id)

    def _transition(
        self, ref: str, to: State, user_id: str, password: str, reason: str | None, source: str
    ) -> GovernedModel:
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
        signed: dict[str, str] = {}
        if to == State.RELEASED:  # the model-signing signature a server checks before serving
            try:
                model_bytes = self.registry.store.get_bytes(model.record.model_sha256)
            except StoreError as exc:
                raise LifecycleError(
                    f"{model.record.id} cannot be released: its model file cannot be read to "
                    f"sign it ({exc})"
                ) from None
            signed = sign_model_bytes(self.state, model_bytes, self.esign_key).details()
        self._person_event(
            who.user.id,
            Action.STATE_CHANGE,
            target,
            source,
            details={
                "from": model.state.value,
                "to": to.value,
                "why": reason or to.value,
                **signed,
            },
        )
        return model

    def purge_audit(self, user_id: str, password: str, *, before: int, reason: str) -> None:
        """Refuse, and audit, an attempt to purge audit entries (AT-06, AT-07).

        Audit data is retained at least as long as the records it covers, and records are
        never deleted by samdops, so every purge is early: no role may purge.
        """
        check_text("reason", reason, max_length=MAX_REASON_LENGTH)
        with self.changing():
            self._purge_attempt(user_id, password, before, reason)

    def _purge_attempt(self, user_id: str, password: str, before: int, reason: str) -> None:
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
            # The OS account of the same name (the embedded default before any users) is
            # presumed to be the same person: refusing is the safe reading.
            if {user.id, f"{OS_PREFIX}{user.id}"} & {history.trained_by, history.registered_by}:
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


def _target(model: str) -> AuditTarget:
    name, _, version = model.rpartition("@")
    return AuditTarget(name, version)


def _registrations(records: Sequence[AuditRecord]) -> Iterator[str]:
    """The ``name@version`` of every successful registration event in ``records``."""
    for record in records:
        event = record.event
        if (
            event.action == Action.CREATE
            and event.outcome == Outcome.SUCCESS
            and event.detail_map().get("kind") in RECORD_KINDS
        ):
            yield str(event.target)


def _is_registered(records: Sequence[AuditRecord], model: str) -> bool:
    return any(m == model for m in _registrations(records))


def _registered_versions(records: Iterator[AuditRecord], name: str) -> set[int]:
    found = set()
    for model in _registrations(list(records)):
        record_name, _, version = model.rpartition("@")
        if record_name == name and version.isdigit():
            found.add(int(version))
    return found


def _refuse_outside_plan(model: GovernedModel) -> None:
    change = model.record.document.get("pccp") or {}
    if change.get("outcome") == "outside-plan":
        raise LifecycleError(
            f"{model.record.id} changes what PCCP {change.get('plan')} allows: it needs a new "
            "regulatory submission and cannot be released under the plan by any signature"
        )
