"""Audit events (AT-01, AT-02): what callers ask to record, and the stamped, validated event.

Callers build an :class:`EventDraft` (actor, action, target, value hashes, reason, source,
outcome). Only :meth:`EventDraft.stamp`, which the audit log calls, adds the event id (uuid4) and
the time (UTC, RFC 3339 with milliseconds, from the system clock), so a caller can never choose
them (AT-01). Both types validate on construction; :meth:`AuditEvent.from_dict` validates a parsed
event against the same schema, with exactly these keys::

    id          uuid4, lowercase
    time        "YYYY-MM-DDTHH:MM:SS.mmmZ"
    actor       {"id": str, "auth": AuthMethod}
    action      Action
    target      "id@version"
    prev_hash   "sha256:<hex>" | null   (previous value of the target; null on create)
    new_hash    "sha256:<hex>" | null   (new value; a delete records the tombstone's hash)
    reason      str | null              (required for modify and delete)
    source      {"kind": SourceKind, "ref": str}   (pipeline run id, CLI command, API request)
    outcome     Outcome
    kind        EventKind               (access | change | execution | security)
    details     {str: str}              (e.g. from/to state, signature meaning)

``kind`` sorts the log for a reader: *access* (patient data or records were read: a dataset, a
window, a registry query, an export), *change* (a record was created, changed, signed), *execution*
(a pipeline step started or ended), *security* (a refusal, a lockout, a purge attempt, a secret
read). It defaults to the action's kind (:data:`KIND_OF_ACTION`); any event may be raised to
``security``. Entries written before ``kind`` existed parse with their action's kind.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

from samdops.clock import utc_timestamp
from samdops.errors import AuditError

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_MAX_TEXT = 4096
_E = TypeVar("_E", bound=enum.StrEnum)
_T = TypeVar("_T")
_KEYS = frozenset(
    [
        "id",
        "time",
        "actor",
        "action",
        "target",
        "prev_hash",
        "new_hash",
        "reason",
        "source",
        "outcome",
        "kind",
        "details",
    ]
)


class Action(enum.StrEnum):
    """What was done to the target."""

    CREATE = "create"
    MODIFY = "modify"
    DELETE = "delete"
    SIGN = "sign"
    STATE_CHANGE = "state_change"
    EXPORT = "export"
    PURGE_ATTEMPT = "purge_attempt"
    SIGNING_FAILURE = "signing_failure"
    READ = "read"  # patient data or a record was read (details: purpose, rows)
    QUERY = "query"  # a registry or audit query by a named user
    STEP_START = "step_start"
    STEP_END = "step_end"
    SECRET_READ = "secret_read"


class EventKind(enum.StrEnum):
    """The four sorts of event (AT-02)."""

    ACCESS = "access"
    CHANGE = "change"
    EXECUTION = "execution"
    SECURITY = "security"


KIND_OF_ACTION: Mapping[Action, EventKind] = {
    Action.CREATE: EventKind.CHANGE,
    Action.MODIFY: EventKind.CHANGE,
    Action.DELETE: EventKind.CHANGE,
    Action.SIGN: EventKind.CHANGE,
    Action.STATE_CHANGE: EventKind.CHANGE,
    Action.EXPORT: EventKind.ACCESS,
    Action.READ: EventKind.ACCESS,
    Action.QUERY: EventKind.ACCESS,
    Action.STEP_START: EventKind.EXECUTION,
    Action.STEP_END: EventKind.EXECUTION,
    Action.PURGE_ATTEMPT: EventKind.SECURITY,
    Action.SIGNING_FAILURE: EventKind.SECURITY,
    Action.SECRET_READ: EventKind.SECURITY,
}


class AuthMethod(enum.StrEnum):
    """How the actor was authenticated."""

    PASSWORD = "password"
    PASSWORD_OTP = "password_otp"
    OIDC = "oidc"
    API_TOKEN = "api_token"
    MTLS = "mtls"
    SERVICE_ACCOUNT_TOKEN = "service_account_token"
    LOCAL_OS_USER = "local_os_user"


class SourceKind(enum.StrEnum):
    """Where the request came from."""

    PIPELINE_RUN = "pipeline_run"
    CLI = "cli"
    API = "api"


class Outcome(enum.StrEnum):
    """The result the event records."""

    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


REASON_REQUIRED = frozenset((Action.MODIFY, Action.DELETE))


def _text(name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise AuditError(f"audit event field {name!r} must be a non-empty string; got {value!r}")
    if len(value) > _MAX_TEXT:
        raise AuditError(f"audit event field {name!r} is longer than {_MAX_TEXT} characters")


def _enum(kind: type[_E], name: str, value: object) -> _E:
    if isinstance(value, kind):
        return value
    if isinstance(value, str) and value in kind._value2member_map_:
        return kind(value)
    allowed = ", ".join(m.value for m in kind)
    raise AuditError(f"audit event field {name!r} must be one of {allowed}; got {value!r}")


@dataclass(frozen=True)
class Actor:
    """Who acted: a unique, never reused user or service id, and how it was authenticated."""

    id: str
    auth: AuthMethod

    def __post_init__(self) -> None:
        _text("actor.id", self.id)
        object.__setattr__(self, "auth", _enum(AuthMethod, "actor.auth", self.auth))


@dataclass(frozen=True)
class Target:
    """The record acted on, as ``id@version``."""

    id: str
    version: str

    def __post_init__(self) -> None:
        _text("target.id", self.id)
        _text("target.version", self.version)
        if "@" in self.version or any(c.isspace() for c in self.id + self.version):
            raise AuditError(f"audit target {self} must be 'id@version' without spaces")

    def __str__(self) -> str:
        return f"{self.id}@{self.version}"

    @classmethod
    def parse(cls, text: object) -> Target:
        """Parse ``id@version`` (the id may contain ``@``; the version may not)."""
        if not isinstance(text, str) or "@" not in text:
            raise AuditError(f"audit event field 'target' must be 'id@version'; got {text!r}")
        ident, version = text.rsplit("@", 1)
        return cls(ident, version)


@dataclass(frozen=True)
class Source:
    """Where the request came from: a pipeline run id, a CLI command, an API request id."""

    kind: SourceKind
    ref: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _enum(SourceKind, "source.kind", self.kind))
        _text("source.ref", self.ref)


def _digest(name: str, value: object) -> None:
    if value is not None and not (isinstance(value, str) and _DIGEST_RE.match(value)):
        raise AuditError(f"audit event field {name!r} must be 'sha256:<64 hex>' or null")


def _details(value: object) -> tuple[tuple[str, str], ...]:
    try:
        pairs = tuple(sorted(dict(value).items()))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise AuditError("audit event field 'details' must map strings to strings") from None
    for k, v in pairs:
        _text("details key", k)
        if not isinstance(v, str) or len(v) > _MAX_TEXT:
            raise AuditError(f"audit event detail {k!r} must be a string of at most {_MAX_TEXT}")
    return pairs


@dataclass(frozen=True)
class EventDraft:
    """What a caller asks the audit log to record; the log adds id and time."""

    actor: Actor
    action: Action
    target: Target
    source: Source
    outcome: Outcome = Outcome.SUCCESS
    prev_hash: str | None = None
    new_hash: str | None = None
    reason: str | None = None
    details: Mapping[str, str] | tuple[tuple[str, str], ...] = field(default=())
    kind: EventKind | None = None  # None: the action's kind

    def __post_init__(self) -> None:
        if not isinstance(self.actor, Actor):
            raise AuditError(f"audit event field 'actor' must be an Actor; got {self.actor!r}")
        if not isinstance(self.target, Target):
            raise AuditError(f"audit event field 'target' must be a Target; got {self.target!r}")
        if not isinstance(self.source, Source):
            raise AuditError(f"audit event field 'source' must be a Source; got {self.source!r}")
        object.__setattr__(self, "action", _enum(Action, "action", self.action))
        object.__setattr__(self, "outcome", _enum(Outcome, "outcome", self.outcome))
        _digest("prev_hash", self.prev_hash)
        _digest("new_hash", self.new_hash)
        _text("reason", self.reason, optional=True)
        if self.action in REASON_REQUIRED and self.reason is None:
            raise AuditError(f"a reason is required to record a {self.action} (AT-02)")
        object.__setattr__(self, "details", _details(self.details))
        natural = KIND_OF_ACTION[self.action]
        kind = natural if self.kind is None else _enum(EventKind, "kind", self.kind)
        if kind not in (natural, EventKind.SECURITY):
            raise AuditError(
                f"audit event kind {kind.value!r} does not fit action {self.action.value!r}; "
                f"use {natural.value!r} or 'security'"
            )
        object.__setattr__(self, "kind", kind)

    def detail_map(self) -> dict[str, str]:
        """The details as a dict (stored normalised as sorted pairs)."""
        return dict(cast(tuple[tuple[str, str], ...], self.details))

    def stamp(self) -> AuditEvent:
        """The event with a fresh uuid4 id and the current UTC time (called by the log only)."""
        return AuditEvent(
            id=str(uuid.uuid4()),
            time=utc_timestamp(),
            actor=self.actor,
            action=self.action,
            target=self.target,
            source=self.source,
            outcome=self.outcome,
            prev_hash=self.prev_hash,
            new_hash=self.new_hash,
            reason=self.reason,
            details=self.details,
            kind=self.kind,
        )


@dataclass(frozen=True)
class AuditEvent(EventDraft):
    """A stamped, validated audit event as stored in the log (AT-02)."""

    id: str = ""
    time: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (isinstance(self.id, str) and _UUID_RE.match(self.id)):
            raise AuditError(f"audit event field 'id' must be a lowercase uuid4; got {self.id!r}")
        if not (isinstance(self.time, str) and _TIME_RE.match(self.time)):
            raise AuditError(
                f"audit event field 'time' must be UTC RFC 3339 with milliseconds, "
                f"like 2026-01-31T12:00:00.000Z; got {self.time!r}"
            )
        try:
            datetime.fromisoformat(self.time)
        except ValueError:
            raise AuditError(f"audit event time {self.time!r} is not a valid date") from None

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict (the stored schema)."""
        return {
            "id": self.id,
            "time": self.time,
            "actor": {"id": self.actor.id, "auth": self.actor.auth.value},
            "action": self.action.value,
            "target": str(self.target),
            "prev_hash": self.prev_hash,
            "new_hash": self.new_hash,
            "reason": self.reason,
            "source": {"kind": self.source.kind.value, "ref": self.source.ref},
            "outcome": self.outcome.value,
            "kind": cast(EventKind, self.kind).value,
            "details": self.detail_map(),
        }

    @classmethod
    def from_dict(cls, data: object) -> AuditEvent:
        """Parse and validate a stored event; raise :class:`AuditError` naming the bad field."""
        fast = _valid_event(data)
        if fast is not None:
            return fast
        if not isinstance(data, dict):
            raise AuditError("an audit event must be a JSON object")
        keys = set(data)
        if keys != _KEYS and keys != _KEYS - {"kind"}:  # entries before ``kind`` existed
            missing, extra = sorted(_KEYS - keys), sorted(keys - _KEYS)
            raise AuditError(f"audit event keys are wrong: missing {missing}, unexpected {extra}")
        actor, source = data["actor"], data["source"]
        if not (isinstance(actor, dict) and set(actor) == {"id", "auth"}):
            raise AuditError("audit event field 'actor' must be {'id', 'auth'}")
        if not (isinstance(source, dict) and set(source) == {"kind", "ref"}):
            raise AuditError("audit event field 'source' must be {'kind', 'ref'}")
        if not isinstance(data["details"], dict):
            raise AuditError("audit event field 'details' must be an object")
        return cls(
            id=data["id"],
            time=data["time"],
            actor=Actor(actor["id"], actor["auth"]),
            action=data["action"],
            target=Target.parse(data["target"]),
            source=Source(source["kind"], source["ref"]),
            outcome=data["outcome"],
            prev_hash=data["prev_hash"],
            new_hash=data["new_hash"],
            reason=data["reason"],
            details=data["details"],
            kind=data.get("kind"),
        )


_ACTIONS = {m.value: m for m in Action}
_AUTHS = {m.value: m for m in AuthMethod}
_SOURCES = {m.value: m for m in SourceKind}
_OUTCOMES = {m.value: m for m in Outcome}
_KINDS = {m.value: m for m in EventKind}
_KEYS_BEFORE_KIND = _KEYS - {"kind"}
_SPACE = re.compile(r"\s")


def _ok_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= _MAX_TEXT


def _built(cls: type[_T], /, **fields: object) -> _T:
    """An instance of the frozen dataclass ``cls`` whose fields were already validated."""
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


def _valid_event(data: object) -> AuditEvent | None:
    """The event, when ``data`` passes every check of :meth:`AuditEvent.from_dict` (built without
    re-validating field by field: reading a million entries is dominated by this); ``None``
    otherwise, and the slow path then names what is wrong. Never accepts what that path refuses.
    """
    checked = _checked(data)
    if checked is None:
        return None
    d, action, auth, source_kind, outcome, kind, target_id, version = checked
    return _built(
        AuditEvent,
        actor=_built(Actor, id=d["actor"]["id"], auth=auth),
        action=action,
        target=_built(Target, id=target_id, version=version),
        source=_built(Source, kind=source_kind, ref=d["source"]["ref"]),
        outcome=outcome,
        prev_hash=d["prev_hash"],
        new_hash=d["new_hash"],
        reason=d["reason"],
        details=tuple(sorted(d["details"].items())),
        kind=kind,
        id=d["id"],
        time=d["time"],
    )


def event_is_valid(data: object) -> bool:
    """Whether ``data`` is a valid stored event (the check of :meth:`AuditEvent.from_dict`,
    without building it: what verification needs)."""
    return _checked(data) is not None or _slow_valid(data)


def _slow_valid(data: object) -> bool:
    AuditEvent.from_dict(data)  # raises naming the field; returns when only the fast path balked
    return True


def _checked(data: object) -> tuple[Any, ...] | None:
    """The parsed enums and target of a valid event dict, or ``None``."""
    if not isinstance(data, dict):
        return None
    keys = data.keys()
    if keys != _KEYS and keys != _KEYS_BEFORE_KIND:
        return None
    actor, source, details = data["actor"], data["source"], data["details"]
    target, ident, time = data["target"], data["id"], data["time"]
    prev_hash, new_hash, reason = data["prev_hash"], data["new_hash"], data["reason"]
    if not (
        isinstance(actor, dict)
        and actor.keys() == {"id", "auth"}
        and isinstance(source, dict)
        and source.keys() == {"kind", "ref"}
        and isinstance(details, dict)
        and isinstance(target, str)
        and isinstance(ident, str)
        and isinstance(time, str)
        and "@" in target
    ):
        return None
    action = _ACTIONS.get(data["action"]) if isinstance(data["action"], str) else None
    auth = _AUTHS.get(actor["auth"]) if isinstance(actor["auth"], str) else None
    source_kind = _SOURCES.get(source["kind"]) if isinstance(source["kind"], str) else None
    outcome = _OUTCOMES.get(data["outcome"]) if isinstance(data["outcome"], str) else None
    if action is None or auth is None or source_kind is None or outcome is None:
        return None
    stored_kind = data.get("kind")
    natural = KIND_OF_ACTION[action]
    if stored_kind is None:
        kind = natural
    elif isinstance(stored_kind, str) and stored_kind in _KINDS:
        kind = _KINDS[stored_kind]
    else:
        return None
    if kind is not natural and kind is not EventKind.SECURITY:
        return None
    target_id, version = target.rsplit("@", 1)
    if not (
        _ok_text(actor["id"])
        and _ok_text(source["ref"])
        and _ok_text(target_id)
        and _ok_text(version)
        and not _SPACE.search(target)
        and (reason is None or _ok_text(reason))
        and (reason is not None or action not in REASON_REQUIRED)
        and (prev_hash is None or (isinstance(prev_hash, str) and _DIGEST_RE.match(prev_hash)))
        and (new_hash is None or (isinstance(new_hash, str) and _DIGEST_RE.match(new_hash)))
        and _UUID_RE.match(ident)
        and _TIME_RE.match(time)
    ):
        return None
    for k, v in details.items():
        if not (_ok_text(k) and isinstance(v, str) and len(v) <= _MAX_TEXT):
            return None
    try:
        datetime.fromisoformat(time)
    except ValueError:
        return None
    return data, action, auth, source_kind, outcome, kind, target_id, version
