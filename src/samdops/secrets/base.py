"""The secret value wrapper and the :class:`SecretsBackend` protocol."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import NoReturn, Protocol, runtime_checkable

from samdops.errors import SecretsUnavailable

_REDACTED = "<redacted>"


class Secret:
    """A secret string that never shows its value in ``repr``, ``str``, f-strings or pickles.

    Call :meth:`reveal` at the one place that hands the value to a client library.
    """

    __slots__ = ("_name", "_value")

    def __init__(self, value: str, name: str = "") -> None:
        if not isinstance(value, str):
            raise TypeError("a Secret wraps a str")
        self._value = value
        self._name = name

    @property
    def name(self) -> str:
        """Where the secret came from, e.g. ``samdops/s3#secret_key`` (not secret)."""
        return self._name

    def reveal(self) -> str:
        """The secret value itself."""
        return self._value

    def __repr__(self) -> str:
        label = f"{self._name}=" if self._name else ""
        return f"Secret({label}{_REDACTED})"

    def __str__(self) -> str:
        return _REDACTED

    def __format__(self, format_spec: str) -> str:
        return _REDACTED

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled; read it from the secrets backend instead")


@runtime_checkable
class SecretsBackend(Protocol):
    """Where credentials come from at run time. Paths look like ``samdops/s3``."""

    def read(self, path: str) -> Mapping[str, Secret]:
        """All keys of the secret at ``path``; raise :class:`SecretsUnavailable` if it cannot."""
        ...

    def describe(self) -> str:
        """Where secrets come from, for messages (e.g. ``Vault at https://vault:8200``)."""
        ...


def read_keys(backend: SecretsBackend, path: str, *required: str) -> Mapping[str, Secret]:
    """All keys of the secret at ``path``, after checking that the ``required`` ones are there."""
    values = backend.read(path)
    missing = [k for k in required if k not in values]
    if missing:
        raise SecretsUnavailable(
            f"secret {path} from {backend.describe()} has no key(s) {', '.join(missing)}; "
            f"it has: {', '.join(sorted(values)) or 'no keys'}"
        )
    return values
