"""Users of the embedded default: unique ids, roles, passwords, re-authentication and lockout.

A hospital would back this with its identity provider; the rules stay the same:

- A user id is never reused or reassigned (ES-04): users are disabled, never deleted, and an id
  that ever existed cannot be added again.
- Signing needs both components, id and password, at the time of signing (ES-03); service
  accounts cannot sign.
- Three failed attempts in a row lock signing for that user (ES-06) until an administrator
  resets the password (``samdops users reset``).
- A password set by an administrator is temporary: it can only be used to choose a new one, so
  no administrator can both reset a credential and sign, or act, as that user (ES-07).
- Ids are ASCII; printed names are one line of printable text (:mod:`.text`).

Authority lives in the audit log. Every change to a user (created, a password set by an
administrator or by its owner, a failed attempt counted, the count cleared, disabled) is one
audit event on the target ``user:<id>@<n>`` (the user's n-th version): its details give the
public state (name, roles, kind, failed attempts, lock and flags) and its ``new_hash`` is the
sha256 of the user's stored record, the write-once document
``identity/users/<id>/<sha256 hex>.json`` at the state location, which alone holds the password
hash; no hash or secret enters the log. The version in force is the one the log names, so a
record edited in place no longer matches its digest and the directory is refused, naming the
user, and a record or snapshot added beside it is never read.

A change reads version n of the user from the log, stores version n + 1 and appends its event,
which takes effect only if its ``prev_hash`` is the digest of version n: of two racing changes
to one user the first appended wins and the other is made again on top of it, so no change is
lost (a failed attempt counted while a password changes), on a directory or on S3. The event
that lost stays in the log with no effect.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from samdops import settings
from samdops.audit.entry import AuditRecord
from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Outcome, Source, SourceKind
from samdops.audit.event import Target as AuditTarget
from samdops.audit.log import AuditLog
from samdops.audit.siem import sink_from_url
from samdops.audit.store import state_entry_store
from samdops.digest import canonical_json, sha256_bytes
from samdops.errors import (
    AccessDenied,
    AuthenticationFailed,
    ConfigError,
    StoreError,
    VerificationError,
)
from samdops.governance.keys import platform_signer
from samdops.governance.roles import Permission, Role, require
from samdops.governance.text import check_text, quoted
from samdops.store.state import StateLocation, open_state

MAX_FAILED_ATTEMPTS = 3
MIN_PASSWORD_LENGTH = 12
MAX_NAME_LENGTH = 100
AUDIT_KEY_NAME = "audit-ed25519.pem"
USER_EVENT_KIND = "user"  # the ``kind`` detail of every user-directory event
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_USERS = "identity/users"
_USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:-]{0,63}$")
SERVICE_PREFIX = "svc:"  # the platform's service accounts (svc:samdops-pipeline, ...)
OS_PREFIX = "os:"  # operating-system accounts that launched a run (:mod:`.launch`)
RESERVED_PREFIXES = (SERVICE_PREFIX, OS_PREFIX)
_T = TypeVar("_T")
Users = dict[str, dict[str, Any]]


class UserKind(StrEnum):
    PERSON = "person"
    SERVICE = "service"


@dataclass(frozen=True)
class User:
    """A user as stored (without the password hash)."""

    id: str
    name: str
    roles: frozenset[Role]
    kind: UserKind
    locked: bool
    must_change_password: bool
    disabled: bool


@dataclass(frozen=True)
class Authenticated:
    """A user who has just proven both identity components; what signing code receives."""

    user: User
    method: str  # how: "password"


@dataclass(frozen=True)
class UserVersion:
    """The version of a user's record in force, as the audit log names it."""

    digest: str  # sha256 of the stored record
    number: int  # 1 for the created record, then one more per change
    seq: int  # the audit entry that made it


def user_target(user_id: str, number: int) -> AuditTarget:
    """The audit target of version ``number`` of a user's record."""
    return AuditTarget(f"user:{user_id}", str(number))


def user_versions(records: Iterable[AuditRecord]) -> dict[str, UserVersion]:
    """Fold the audit log into the version in force of each user.

    An event takes effect if it is the next version of the user and its ``prev_hash`` is the
    digest of the version in force (none for a create); a bootstrap only while no user exists.
    """
    out: dict[str, UserVersion] = {}
    for record in records:
        event = record.event
        details = event.detail_map()
        if event.outcome != Outcome.SUCCESS or details.get("kind") != USER_EVENT_KIND:
            continue
        user_id = event.target.id.removeprefix("user:")
        current = out.get(user_id)
        number = current.number + 1 if current else 1
        if details.get("bootstrap") == "true" and out:
            continue
        if (
            event.new_hash is not None
            and event.prev_hash == (current.digest if current else None)
            and event.target == user_target(user_id, number)
        ):
            out[user_id] = UserVersion(event.new_hash, number, record.seq)
    return out


def check_user_id(user_id: str) -> str:
    """``user_id`` if it is 1 to 64 ASCII letters, digits, '-', '.' or ':'; else raise."""
    if not _USER_ID.match(user_id):
        raise ConfigError(
            f"user id {quoted(user_id)} must be 1 to 64 ASCII letters, digits, '-', '.' or ':', "
            "starting with a letter or digit"
        )
    return user_id


def check_new_user(user_id: str, name: str) -> None:
    """Raise unless ``user_id`` is a valid id, not reserved, and ``name`` a printed name (ES-01)."""
    check_user_id(user_id)
    reserved = next((p for p in RESERVED_PREFIXES if user_id.lower().startswith(p)), None)
    if reserved is not None:
        raise ConfigError(
            f"user id {quoted(user_id)} starts with {reserved!r}, which is reserved for service "
            f"and OS accounts ({', '.join(RESERVED_PREFIXES)}); choose another id"
        )
    if not name.strip():
        raise ConfigError("a user needs a printed name for signatures (ES-01)")
    check_text("printed name", name.strip(), max_length=MAX_NAME_LENGTH)


def _hash(password: str, salt: bytes) -> str:
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def _check(password: str, stored: str) -> bool:
    _, salt, _ = stored.split("$")
    return hmac.compare_digest(_hash(password, bytes.fromhex(salt)), stored)


def _user(entry: dict[str, Any]) -> User:
    return User(
        id=entry["id"],
        name=entry["name"],
        roles=frozenset(Role(r) for r in entry["roles"]),
        kind=UserKind(entry["kind"]),
        locked=entry["failed_attempts"] >= MAX_FAILED_ATTEMPTS,
        must_change_password=entry["must_change_password"],
        disabled=entry["disabled"],
    )


def _key(user_id: str, digest: str) -> str:
    return f"{_USERS}/{user_id}/{digest.removeprefix('sha256:')}.json"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _details(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, str]:
    """The public state of a user's new version, as audit details (no password hash)."""
    locked = after["failed_attempts"] >= MAX_FAILED_ATTEMPTS
    details = {
        "kind": USER_EVENT_KIND,
        "name": after["name"],
        "roles": ",".join(after["roles"]),
        "user_kind": after["kind"],
        "failed_attempts": str(after["failed_attempts"]),
        "locked": _flag(locked),
        "must_change_password": _flag(after["must_change_password"]),
        "disabled": _flag(after["disabled"]),
    }
    if before is not None and locked and before["failed_attempts"] < MAX_FAILED_ATTEMPTS:
        details["cef_severity"] = "8"  # a lockout is a high-severity security event (ES-06)
    return details


def _reason(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Why a user's record changed, from what changed."""
    if after["disabled"] and not before["disabled"]:
        return "disabled by a user administrator"
    if after["password"] != before["password"]:
        if after["must_change_password"]:
            return "temporary password set by a user administrator; failed attempts cleared"
        return "password changed by its owner"
    failed = after["failed_attempts"]
    if failed > before["failed_attempts"]:
        locked = "; signing is now locked" if failed >= MAX_FAILED_ATTEMPTS else ""
        return f"failed authentication ({failed} of {MAX_FAILED_ATTEMPTS}){locked}"
    return "authenticated; the count of failed attempts was cleared"


class UserDirectory:
    """The users at the state location, as the audit log names them.

    ``audit`` is the state's audit log (a :class:`~samdops.governance.service.GovernedRegistry`
    passes its own); by default it is opened here, and its signing key only when a change is
    checkpointed.
    """

    def __init__(
        self, location: str | Path | StateLocation | None = None, *, audit: AuditLog | None = None
    ) -> None:
        self._state = open_state(location)
        self._documents = self._state.documents
        sinks = [sink_from_url(url) for url in settings.siem_destinations()]
        self.audit = audit or AuditLog(state_entry_store(self._state), sinks=sinks)

    def __repr__(self) -> str:
        return f"UserDirectory({self._documents.location!r})"

    # -- reading -------------------------------------------------------------------------------

    def _current(self) -> tuple[dict[str, UserVersion], Users]:
        """The version in force of every user, and their records, each checked against it."""
        versions = user_versions(self.audit.entries())
        users = {user_id: self._load(user_id, v) for user_id, v in sorted(versions.items())}
        if not users and any(n.endswith(".json") for n in self._documents.names(_USERS)):
            raise ConfigError(
                f"the user directory at {self._documents.location} holds snapshots from before "
                "users were audited (identity/users/<n>.json), which the audit log does not "
                "cover; move them away and create the users again (`samdops users bootstrap`)"
            )
        return versions, users

    def _load(self, user_id: str, version: UserVersion) -> dict[str, Any]:
        data = self._documents.read(_key(user_id, version.digest))
        if data is None or sha256_bytes(data) != version.digest:
            how = "is missing" if data is None else "was changed"
            raise VerificationError(
                f"user {user_id!r}: the record in the user directory {how} since audit entry "
                f"{version.seq} wrote it; the directory is refused until it is restored"
            )
        entry: dict[str, Any] = json.loads(data)
        return entry

    def get(self, user_id: str) -> User:
        entry = self._current()[1].get(user_id)
        if entry is None:
            raise AccessDenied(f"unknown user {quoted(user_id)}")
        return _user(entry)

    def users(self) -> list[User]:
        return [_user(e) for e in self._current()[1].values()]

    # -- changing ------------------------------------------------------------------------------

    def _transact(self, user_id: str, actor: Actor, change: Callable[[Users], _T]) -> _T:
        """Apply ``change`` to the users in force and record the new version of ``user_id``.

        A change that raises (a failed attempt) is still recorded when it changed the user, and
        then raises; one that lost the race to another change of that user is made again on it.
        """
        for _ in range(100):
            versions, users = self._current()
            before = copy.deepcopy(users.get(user_id))
            failure: Exception | None = None
            try:
                result = change(users)
            except Exception as exc:  # re-raised once the change is recorded
                failure = exc
            after = users.get(user_id)
            if after is not None and after != before:
                applied = self._record(user_id, versions.get(user_id), before, after, actor)
                if not applied:
                    continue  # another change of this user came first: redo this one on it
            if failure is not None:
                raise failure
            return result
        raise StoreError(f"the user directory at {self._documents.location} is too busy")

    def _record(
        self,
        user_id: str,
        version: UserVersion | None,
        before: dict[str, Any] | None,
        after: dict[str, Any],
        actor: Actor,
    ) -> bool:
        """Store ``after`` and append its event; ``False`` if the event lost a race."""
        data = canonical_json(after)
        digest = sha256_bytes(data)
        key = _key(user_id, digest)
        if not self._documents.create(key, data) and self._documents.read(key) != data:
            raise VerificationError(
                f"user {user_id!r}: another record was placed at {key} outside samdops"
            )
        details = _details(before, after)
        if before is None and actor.auth == AuthMethod.LOCAL_OS_USER:
            details["bootstrap"] = "true"
        record = self.audit.append(
            EventDraft(
                actor=actor,
                action=Action.CREATE if version is None else Action.MODIFY,
                target=user_target(user_id, version.number + 1 if version else 1),
                source=Source(SourceKind.CLI, "samdops users"),
                prev_hash=version.digest if version else None,
                new_hash=digest,
                reason=None if before is None else _reason(before, after),
                details=details,
            )
        )
        applied = user_versions(self.audit.entries(0, record.seq + 1)).get(user_id)
        return applied is not None and applied.seq == record.seq

    def _can_sign(self) -> None:
        """Make sure the log can checkpoint before anything is changed (the key, or Vault)."""
        if self.audit.signer is None:
            self.audit.signer = platform_signer(self._state, AUDIT_KEY_NAME)

    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        """A change: the log can sign and is recovered first; what it appends is checkpointed
        before it returns or raises (:meth:`AuditLog.covered`)."""
        self._can_sign()
        self.audit.recover()
        with self.audit.covered():
            yield

    def _admin_change(
        self,
        admin: Authenticated,
        user_id: str,
        action: Action,
        change: Callable[[Users], _T],
    ) -> _T:
        """A change by a user administrator; a refusal is audited as denied."""
        actor = Actor(admin.user.id, AuthMethod.PASSWORD)
        with self._changing():
            try:
                require(admin.user.id, admin.user.roles, Permission.MANAGE_USERS)
                return self._transact(user_id, actor, change)
            except AccessDenied as exc:
                self._denied(actor, action, user_target(user_id, 0), "samdops users", exc)
                raise

    def _denied(
        self, actor: Actor, action: Action, target: AuditTarget, source: str, exc: Exception
    ) -> None:
        """Audit a refused attempt (outcome ``denied``; it changes nothing)."""
        self.audit.append(
            EventDraft(
                actor=actor,
                action=action,
                target=target,
                source=Source(SourceKind.CLI, source),
                outcome=Outcome.DENIED,
                reason=str(exc) if action == Action.MODIFY else None,
                details={"error": str(exc)},
            )
        )

    def bootstrap_admin(self, user_id: str, name: str, password: str) -> User:
        """Create the first user administrator; refused once any user exists."""

        def change(users: Users) -> User:
            if users:
                raise AccessDenied("the user directory is already initialised")
            users[user_id] = self._entry(
                user_id, name, {Role.USER_ADMIN}, UserKind.PERSON, password, must_change=False
            )
            return _user(users[user_id])

        check_user_id(user_id)
        actor = Actor(user_id, AuthMethod.LOCAL_OS_USER)
        with self._changing():
            try:
                return self._transact(user_id, actor, change)
            except AccessDenied as exc:
                self._denied(actor, Action.CREATE, user_target(user_id, 0), "samdops users", exc)
                raise

    def add(
        self,
        admin: Authenticated,
        user_id: str,
        name: str,
        roles: set[Role],
        *,
        kind: UserKind = UserKind.PERSON,
        temporary_password: str | None = None,
    ) -> User:
        """Add a user; the password is temporary (the user must choose their own before signing)."""
        password = temporary_password or secrets.token_urlsafe(16)
        self._entry(user_id, name, roles, kind, password, must_change=True)  # input errors first

        def change(users: Users) -> User:
            if user_id in users:
                raise AccessDenied(
                    f"user id {user_id!r} already exists or existed; ids are never reused (ES-04)"
                )
            users[user_id] = self._entry(user_id, name, roles, kind, password, must_change=True)
            return _user(users[user_id])

        return self._admin_change(admin, user_id, Action.CREATE, change)

    @staticmethod
    def _entry(
        user_id: str,
        name: str,
        roles: set[Role],
        kind: UserKind,
        password: str,
        *,
        must_change: bool,
    ) -> dict[str, Any]:
        check_new_user(user_id, name)
        _check_strength(password)
        return {
            "id": user_id,
            "name": name.strip(),
            "roles": sorted(r.value for r in roles),
            "kind": kind.value,
            "password": _hash(password, secrets.token_bytes(16)),
            "failed_attempts": 0,
            "must_change_password": must_change,
            "disabled": False,
        }

    def authenticate(
        self,
        user_id: str,
        password: str,
        *,
        target: AuditTarget | None = None,
        source: str = "samdops users",
        temporary_ok: bool = False,
    ) -> Authenticated:
        """Check both components now; count failures and lock after three (ES-06).

        A refusal is audited as a denied ``signing_failure`` on ``target`` (what was attempted);
        a temporary password is refused unless ``temporary_ok`` (to choose a new one).
        """
        check_user_id(user_id)
        actor = Actor(user_id, AuthMethod.PASSWORD)

        def change(users: Users) -> Authenticated:
            entry = users.get(user_id)
            if entry is None:
                raise AuthenticationFailed(f"authentication failed for {user_id!r}")
            if entry["disabled"]:
                raise AuthenticationFailed(f"user {user_id!r} is disabled")
            if entry["failed_attempts"] >= MAX_FAILED_ATTEMPTS:
                raise AuthenticationFailed(
                    f"signing is locked for {user_id!r} after {MAX_FAILED_ATTEMPTS} failed "
                    f"attempts; a user administrator must reset the password "
                    f"(`samdops users reset {user_id}`)"
                )
            if not _check(password, entry["password"]):
                entry["failed_attempts"] += 1
                left = MAX_FAILED_ATTEMPTS - entry["failed_attempts"]
                suffix = f"; {left} attempt(s) left" if left else "; signing is now locked"
                raise AuthenticationFailed(f"authentication failed for {user_id!r}{suffix}")
            entry["failed_attempts"] = 0
            return Authenticated(_user(entry), "password")

        with self._changing():
            try:
                who = self._transact(user_id, actor, change)
                if who.user.must_change_password and not temporary_ok:
                    raise AccessDenied(
                        f"{user_id} still has a temporary password set by an administrator; "
                        f"choose your own with `samdops users passwd --user {user_id}` first"
                    )
            except (AuthenticationFailed, AccessDenied) as exc:
                where = target or user_target(user_id, 0)
                self._denied(actor, Action.SIGNING_FAILURE, where, source, exc)
                raise
        return who

    def change_password(self, user_id: str, old: str, new: str) -> None:
        """The user sets their own password (clears the temporary flag)."""
        _check_strength(new)
        if old == new:
            raise ConfigError("the new password must differ from the old one")
        self.authenticate(user_id, old, source="samdops users passwd", temporary_ok=True)

        def change(users: Users) -> None:
            users[user_id]["password"] = _hash(new, secrets.token_bytes(16))
            users[user_id]["must_change_password"] = False

        with self._changing():
            self._transact(user_id, Actor(user_id, AuthMethod.PASSWORD), change)

    def reset_password(self, admin: Authenticated, user_id: str, temporary: str) -> None:
        """Set a temporary password and unlock; the user must change it before signing."""
        _check_strength(temporary)

        def change(users: Users) -> None:
            entry = users.get(user_id)
            if entry is None:
                raise AccessDenied(f"unknown user {quoted(user_id)}")
            if admin.user.id == user_id:
                raise AccessDenied("a user administrator cannot reset their own password")
            if entry["disabled"]:
                raise AccessDenied(f"user {user_id!r} is disabled; a disabled id stays disabled")
            entry["password"] = _hash(temporary, secrets.token_bytes(16))
            entry["must_change_password"] = True
            entry["failed_attempts"] = 0

        self._admin_change(admin, user_id, Action.MODIFY, change)

    def disable(self, admin: Authenticated, user_id: str) -> None:
        """Disable a user for good; the id stays taken."""

        def change(users: Users) -> None:
            if user_id not in users:
                raise AccessDenied(f"unknown user {quoted(user_id)}")
            _keep_an_administrator(
                {**users, user_id: {**users[user_id], "disabled": True}}, user_id
            )
            users[user_id]["disabled"] = True

        self._admin_change(admin, user_id, Action.MODIFY, change)


def _keep_an_administrator(users: Users, user_id: str) -> None:
    """Refuse the change of ``user_id`` to ``users`` (checked before it is made, since a change
    that raises is still recorded) if it leaves no enabled, unlocked user administrator."""
    left = [
        entry
        for entry in users.values()
        if Role.USER_ADMIN.value in entry["roles"]
        and entry["kind"] == UserKind.PERSON.value
        and not entry["disabled"]
        and entry["failed_attempts"] < MAX_FAILED_ATTEMPTS
    ]
    if not left:
        raise AccessDenied(
            f"{user_id} is the only user administrator left; add another one before this change"
        )


def _check_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
