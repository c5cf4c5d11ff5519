"""Secrets from Vault (or OpenBao) through hvac: token, AppRole or Kubernetes auth, KV v2 reads.

The token is renewed when its remaining TTL falls below ``renew_below`` seconds, or obtained again
by logging in when it cannot be renewed. Every failure becomes :class:`SecretsUnavailable` naming
the secret and the reason, never the token or any other credential.

Every read returns :class:`~samdops.secrets.reads.SecretValues` whose ``read`` names the path, the
component (the Vault role) and Vault's ``request_id``, and is reported to the open
:func:`~samdops.secrets.reads.recording` blocks, for the audit trail.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import hvac
import hvac.exceptions
import requests

from samdops.errors import SecretsUnavailable
from samdops.retry import GaveUp, RetryPolicy, retry_call
from samdops.secrets.base import Secret
from samdops.secrets.reads import SecretRead, SecretValues, report

DEFAULT_JWT_PATH = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
DEFAULT_RETRY = RetryPolicy(attempts=4, timeout=15.0)
DEFAULT_COMPONENT = "samdops"  # who reads with a given token (no Vault role)

_T = TypeVar("_T")
_log = logging.getLogger(__name__)


class _LoginFailed(Exception):
    """Login was refused or impossible; the message is safe to show."""


class VaultAuth(Protocol):
    """How to obtain a Vault token."""

    can_login_again: bool  # False for a given token: it cannot be obtained again

    def login(self, client: Any) -> Any:
        """Authenticate ``client`` (sets its token); return hvac's login response or ``None``."""
        ...

    def describe(self) -> str:
        """The auth method and role, for messages (never a credential)."""
        ...

    def secrets(self) -> tuple[str, ...]:
        """Credential values to scrub from any text shown to users."""
        ...


@dataclass(frozen=True)
class TokenAuth:
    """A token given by the operator (``VAULT_TOKEN``). It cannot be obtained again when expired."""

    token: Secret
    can_login_again = False

    def login(self, client: Any) -> Any:
        client.token = self.token.reveal()
        return None

    def describe(self) -> str:
        return "the given token"

    def secrets(self) -> tuple[str, ...]:
        return (self.token.reveal(),)


@dataclass(frozen=True)
class AppRoleAuth:
    """AppRole login (local use): ``role`` names the role in messages only."""

    role_id: Secret
    secret_id: Secret
    role: str = ""
    mount: str = "approle"
    can_login_again = True

    def login(self, client: Any) -> Any:
        return client.auth.approle.login(
            role_id=self.role_id.reveal(),
            secret_id=self.secret_id.reveal(),
            mount_point=self.mount,
        )

    def describe(self) -> str:
        return f"AppRole role {self.role!r}" if self.role else "AppRole"

    def secrets(self) -> tuple[str, ...]:
        return (self.role_id.reveal(), self.secret_id.reveal())


@dataclass(frozen=True)
class KubernetesAuth:
    """Kubernetes auth with the pod's service-account token, re-read at every login."""

    role: str
    jwt_path: Path = DEFAULT_JWT_PATH
    mount: str = "kubernetes"
    can_login_again = True
    _seen: list[str] = field(default_factory=list, init=False, repr=False, compare=False)

    def login(self, client: Any) -> Any:
        try:
            jwt = self.jwt_path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise _LoginFailed(
                f"cannot read the service-account token {self.jwt_path} ({exc.strerror}); "
                "is a service-account token mounted in this pod?"
            ) from None
        self._seen[:] = [jwt]
        return client.auth.kubernetes.login(role=self.role, jwt=jwt, mount_point=self.mount)

    def describe(self) -> str:
        return f"Kubernetes role {self.role!r}"

    def secrets(self) -> tuple[str, ...]:
        return tuple(self._seen)


def _is_transient(exc: BaseException) -> bool:
    return isinstance(
        exc,
        requests.exceptions.ConnectionError
        | requests.exceptions.Timeout
        | hvac.exceptions.InternalServerError
        | hvac.exceptions.BadGateway
        | hvac.exceptions.RateLimitExceeded,
    )


def _server_errors(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list | tuple):
        text = "; ".join(str(e) for e in errors)
    else:
        text = str(errors or "")
    return re.sub(r"\d+ errors? occurred:\s*\*\s*", "", text).strip()


class VaultSecrets:
    """Reads KV v2 secrets from Vault at ``addr``; paths are ``<kv mount>/<path>``."""

    def __init__(
        self,
        addr: str,
        auth: VaultAuth,
        *,
        namespace: str | None = None,
        verify: bool | str = True,
        timeout: float = 10.0,
        renew_below: float = 300.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        component: str | None = None,
    ) -> None:
        self.addr = addr.rstrip("/")
        self.auth = auth
        self.component = component or getattr(auth, "role", "") or DEFAULT_COMPONENT
        self._renew_below = renew_below
        self._retry = retry
        self._client = hvac.Client(
            url=self.addr, namespace=namespace, verify=verify, timeout=timeout
        )
        self._lock = threading.Lock()
        self._expires_at: float | None = None  # monotonic; inf for tokens that never expire
        self._renewable = False

    def __repr__(self) -> str:
        return f"VaultSecrets(addr={self.addr!r}, auth={self.auth.describe()!r})"

    def describe(self) -> str:
        return f"Vault at {self.addr}"

    def read(self, path: str) -> SecretValues:
        """All keys of the KV v2 secret at ``path`` (e.g. ``samdops/s3``), and the read itself."""
        mount, _, sub = path.strip("/").partition("/")
        if not mount or not sub:
            raise SecretsUnavailable(
                f"cannot read secret {path!r}: expected '<kv mount>/<path>', e.g. 'samdops/s3'"
            )
        response = self._call(
            f"read secret {path} from {self.describe()}",
            lambda: self._client.secrets.kv.v2.read_secret_version(
                path=sub, mount_point=mount, raise_on_deleted_version=True
            ),
        )
        data = response["data"]["data"] or {}
        values = {
            key: Secret(value if isinstance(value, str) else json.dumps(value), f"{path}#{key}")
            for key, value in data.items()
        }
        read = SecretRead(
            path=f"{mount}/{sub}",
            vault_path=f"{mount}/data/{sub}",
            component=self.component,
            request_id=str(response.get("request_id") or ""),
            backend=self.describe(),
        )
        report(read)
        return SecretValues(values, read)

    def client(self) -> Any:
        """The authenticated ``hvac.Client`` (token fresh), for other engines such as Transit."""
        self._call(f"log in to {self.describe()}", lambda: None)
        return self._client

    # -- token lifecycle ------------------------------------------------------------------------

    def _call(self, action: str, fn: Callable[[], _T]) -> _T:
        what = action.split(" from ")[0]
        try:
            self._fresh_token(what)
            try:
                return retry_call(fn, transient=_is_transient, what=what, policy=self._retry)
            except hvac.exceptions.Forbidden:
                # A token revoked or expired early: log in again once, if the method can.
                if not self.auth.can_login_again or self._token_valid():
                    raise
                self._expires_at = None
                self._fresh_token(what)
                return retry_call(fn, transient=_is_transient, what=what, policy=self._retry)
        except _LoginFailed as exc:
            reason = f"login with {self.auth.describe()} failed: {exc}"
        except GaveUp as exc:
            reason = f"{self._explain(exc.last)} (gave up after {exc.attempts} attempts)"
        except (hvac.exceptions.VaultError, requests.exceptions.RequestException) as exc:
            reason = self._explain(exc)
        raise SecretsUnavailable(self._scrub(f"cannot {action}: {reason}")) from None

    def _fresh_token(self, what: str) -> None:
        with self._lock:
            try:
                retry_call(
                    self._ensure_token, transient=_is_transient, what=what, policy=self._retry
                )
            except GaveUp as exc:
                if isinstance(exc.last, hvac.exceptions.VaultError):  # the server answered
                    raise _LoginFailed(
                        f"{_server_errors(exc.last) or type(exc.last).__name__} "
                        f"(gave up after {exc.attempts} attempts)"
                    ) from None
                raise

    def _ensure_token(self) -> None:
        if self._expires_at is None:
            self._login()
            return
        remaining = self._expires_at - time.monotonic()
        if remaining > self._renew_below:
            return
        if self._renewable:
            try:
                response = self._client.auth.token.renew_self()
            except (hvac.exceptions.Forbidden, hvac.exceptions.InvalidRequest):
                _log.info("Vault refused to renew the token (%s)", self.auth.describe())
            else:
                self._set_expiry(response["auth"]["lease_duration"], response["auth"]["renewable"])
                _log.info("renewed the Vault token (%s)", self.auth.describe())
                return
        if self.auth.can_login_again:
            self._login()
        elif remaining <= 0:
            self._expires_at = None
            raise _LoginFailed("the token has expired; provide a new token")

    def _login(self) -> None:
        try:
            response = self.auth.login(self._client)
        except hvac.exceptions.VaultError as exc:
            if _is_transient(exc) or isinstance(exc, hvac.exceptions.VaultDown):
                raise
            raise _LoginFailed(self._explain_login(exc)) from None
        if response is None:  # a given token: learn its TTL
            try:
                data = self._client.auth.token.lookup_self()["data"]
            except hvac.exceptions.Forbidden:
                raise _LoginFailed("the token is invalid or has expired") from None
            self._set_expiry(data.get("ttl", 0), data.get("renewable", False))
        else:
            self._set_expiry(response["auth"]["lease_duration"], response["auth"]["renewable"])
        _log.info("authenticated to %s with %s", self.describe(), self.auth.describe())

    def _set_expiry(self, ttl: int, renewable: bool) -> None:
        self._expires_at = time.monotonic() + ttl if ttl else float("inf")
        self._renewable = bool(renewable)

    # -- messages --------------------------------------------------------------------------------

    def _explain_login(self, exc: BaseException) -> str:
        text = _server_errors(exc)
        if isinstance(exc, hvac.exceptions.Forbidden):
            return f"permission denied ({text or 'the server refused the credentials'})"
        return text or type(exc).__name__

    def _explain(self, exc: BaseException) -> str:
        if isinstance(exc, requests.exceptions.Timeout):
            return "Vault did not answer in time"
        if isinstance(exc, requests.exceptions.ConnectionError):
            match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
            detail = match.group(1).strip() if match else "connection failed"
            return f"Vault is unreachable ({detail})"
        if isinstance(exc, hvac.exceptions.VaultDown):
            text = _server_errors(exc)
            return "Vault is sealed" if "sealed" in text.lower() else f"Vault is down ({text})"
        if isinstance(exc, hvac.exceptions.Forbidden):
            if not self._token_valid():
                self._expires_at = None
                return "the Vault token is invalid or has expired"
            return f"permission denied (policy for {self.auth.describe()} does not allow it)"
        if isinstance(exc, hvac.exceptions.InvalidPath):
            return "no such secret (or no KV v2 engine at that mount, or the version is deleted)"
        if isinstance(exc, hvac.exceptions.Unauthorized):
            return "not authenticated"
        return _server_errors(exc) or type(exc).__name__

    def _token_valid(self) -> bool:
        try:
            self._client.auth.token.lookup_self()
        except (hvac.exceptions.VaultError, requests.exceptions.RequestException):
            return False
        return True

    def _scrub(self, text: str) -> str:
        for value in (*self.auth.secrets(), str(self._client.token or "")):
            if len(value) >= 4:
                text = text.replace(value, "<redacted>")
        return text
