"""Users of the embedded default: unique ids, roles, passwords, re-authentication and lockout.

A hospital would back this with its identity provider; the rules stay the same:

- A user id is never reused or reassigned (ES-04): users are disabled, never deleted, and an id
  that ever existed cannot be added again.
- Signing needs both components, id and password, at the time of signing (ES-03); service
  accounts cannot sign.
- Three failed attempts in a row lock signing for that user (ES-06) until an administrator
  resets the password.
- A password set by an administrator is temporary: it can only be used to choose a new one, so
  no administrator can both reset a credential and sign as that user (ES-07).

The directory is a sequence of write-once snapshots, ``identity/users/<n>.json`` at the state
location, the newest in force. A change reads the newest snapshot ``n`` and creates ``n + 1``;
if another writer created it first, the change is made again on theirs, so concurrent changes
(a failed attempt counted while a password changes) are never lost, on a directory or on S3.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from samdops.digest import canonical_json
from samdops.errors import AccessDenied, AuthenticationFailed, ConfigError, StoreError
from samdops.governance.roles import Permission, Role, require
from samdops.store.documents import latest, numbered
from samdops.store.state import StateLocation, open_state

MAX_FAILED_ATTEMPTS = 3
MIN_PASSWORD_LENGTH = 12
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_USERS = "identity/users"
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


class UserDirectory:
    """The users at the state location (``identity/users/<n>.json``, the newest in force)."""

    def __init__(self, location: str | Path | StateLocation | None = None) -> None:
        self._documents = open_state(location).documents

    def __repr__(self) -> str:
        return f"UserDirectory({self._documents.location!r})"

    def _transact(self, change: Callable[[Users], _T]) -> _T:
        """Apply ``change`` to the newest snapshot and store the result as the next one.

        A change that raises (a failed attempt) is still stored when it changed something, and
        then raises; one that lost the race to another writer is made again on theirs.
        """
        for _ in range(100):
            number, users = self._newest()
            before = canonical_json(users)
            failure: Exception | None = None
            try:
                result = change(users)
            except Exception as exc:  # re-raised once the count is stored
                failure = exc
            after = canonical_json(users)
            if after != before and not self._documents.create(
                numbered(_USERS, number + 1, "json"), after
            ):
                continue  # another change came first: redo this one on top of it
            if failure is not None:
                raise failure
            return result
        raise StoreError(f"the user directory at {self._documents.location} is too busy")

    def _newest(self) -> tuple[int, Users]:
        found = latest(self._documents, _USERS, "json")
        if found is None:
            return 0, {}
        users: Users = json.loads(found[1])
        return found[0], users

    def _read(self) -> Users:
        return self._newest()[1]

    def get(self, user_id: str) -> User:
        entry = self._read().get(user_id)
        if entry is None:
            raise AccessDenied(f"unknown user {user_id!r}")
        return _user(entry)

    def users(self) -> list[User]:
        return [_user(e) for _, e in sorted(self._read().items())]

    def bootstrap_admin(self, user_id: str, name: str, password: str) -> User:
        """Create the first user administrator; refused once any user exists."""

        def change(users: Users) -> User:
            if users:
                raise AccessDenied("the user directory is already initialised")
            users[user_id] = self._entry(
                user_id, name, {Role.USER_ADMIN}, UserKind.PERSON, password, must_change=False
            )
            return _user(users[user_id])

        return self._transact(change)

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
        require(admin.user.id, admin.user.roles, Permission.MANAGE_USERS)

        def change(users: Users) -> User:
            if user_id in users:
                raise AccessDenied(
                    f"user id {user_id!r} already exists or existed; ids are never reused (ES-04)"
                )
            password = temporary_password or secrets.token_urlsafe(16)
            users[user_id] = self._entry(user_id, name, roles, kind, password, must_change=True)
            return _user(users[user_id])

        return self._transact(change)

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
        if not user_id or not user_id.replace("-", "").replace(".", "").replace(":", "").isalnum():
            raise ConfigError(f"user id {user_id!r} must be letters, digits, '-', '.' or ':'")
        if not name.strip():
            raise ConfigError("a user needs a printed name for signatures (ES-01)")
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

    def authenticate(self, user_id: str, password: str) -> Authenticated:
        """Check both components now; count failures and lock after three (ES-06)."""

        def change(users: Users) -> Authenticated:
            entry = users.get(user_id)
            if entry is None:
                raise AuthenticationFailed(f"authentication failed for {user_id!r}")
            if entry["disabled"]:
                raise AuthenticationFailed(f"user {user_id!r} is disabled")
            if entry["failed_attempts"] >= MAX_FAILED_ATTEMPTS:
                raise AuthenticationFailed(
                    f"signing is locked for {user_id!r} after {MAX_FAILED_ATTEMPTS} failed "
                    "attempts; a user administrator must reset the password"
                )
            if not _check(password, entry["password"]):
                entry["failed_attempts"] += 1
                left = MAX_FAILED_ATTEMPTS - entry["failed_attempts"]
                suffix = f"; {left} attempt(s) left" if left else "; signing is now locked"
                raise AuthenticationFailed(f"authentication failed for {user_id!r}{suffix}")
            entry["failed_attempts"] = 0
            return Authenticated(_user(entry), "password")

        return self._transact(change)

    def change_password(self, user_id: str, old: str, new: str) -> None:
        """The user sets their own password (clears the temporary flag)."""
        self.authenticate(user_id, old)
        _check_strength(new)
        if old == new:
            raise ConfigError("the new password must differ from the old one")

        def change(users: Users) -> None:
            users[user_id]["password"] = _hash(new, secrets.token_bytes(16))
            users[user_id]["must_change_password"] = False

        self._transact(change)

    def reset_password(self, admin: Authenticated, user_id: str, temporary: str) -> None:
        """Set a temporary password and unlock; the user must change it before signing."""
        require(admin.user.id, admin.user.roles, Permission.MANAGE_USERS)
        if admin.user.id == user_id:
            raise AccessDenied("a user administrator cannot reset their own password")
        _check_strength(temporary)

        def change(users: Users) -> None:
            if user_id not in users:
                raise AccessDenied(f"unknown user {user_id!r}")
            users[user_id]["password"] = _hash(temporary, secrets.token_bytes(16))
            users[user_id]["must_change_password"] = True
            users[user_id]["failed_attempts"] = 0

        self._transact(change)

    def disable(self, admin: Authenticated, user_id: str) -> None:
        """Disable a user for good; the id stays taken."""
        require(admin.user.id, admin.user.roles, Permission.MANAGE_USERS)

        def change(users: Users) -> None:
            if user_id not in users:
                raise AccessDenied(f"unknown user {user_id!r}")
            users[user_id]["disabled"] = True

        self._transact(change)


def _check_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
