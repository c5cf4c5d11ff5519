"""Which key signs: a Vault Transit key when Vault is configured, else a local Ed25519 key.

With ``$VAULT_ADDR`` set, audit checkpoints and e-signatures are signed by the non-exportable
Transit key ``samdops-audit`` (``$SAMDOPS_TRANSIT_KEY`` overrides the name), through the Vault
credentials of the environment (:func:`samdops.secrets.secrets_from_env`). Vault is contacted
only when something is signed or a public key is needed, so a step that never signs needs no
Transit permission. Without Vault, the embedded default is a local key file (mode 0600).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from samdops import settings
from samdops.audit.signer import LocalEd25519Signer, Signer
from samdops.errors import ConfigError

if TYPE_CHECKING:
    from samdops.store.state import StateLocation

DEFAULT_TRANSIT_KEY = "samdops-audit"


class _LazySigner:
    """A signer created on first use."""

    def __init__(self, make: Callable[[], Signer], description: str) -> None:
        self._make = make
        self._description = description
        self._signer: Signer | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LazySigner({self._description})"

    def _get(self) -> Signer:
        with self._lock:
            if self._signer is None:
                self._signer = self._make()
            return self._signer

    @property
    def key_id(self) -> str:
        return self._get().key_id

    def sign(self, data: bytes) -> bytes:
        return self._get().sign(data)

    def public_key_pem(self) -> bytes:
        return self._get().public_key_pem()


def platform_signer(state: StateLocation, local_key_name: str) -> Signer:
    """The Transit signer when ``$VAULT_ADDR`` is set, else ``<state dir>/keys/<local_key_name>``.

    A state location on S3 needs Vault: a local key file would be a different key in every step.
    """
    if settings.vault_address():
        key = settings.transit_key(DEFAULT_TRANSIT_KEY)

        def transit() -> Signer:
            from samdops.audit.transit import TransitSigner
            from samdops.secrets import secrets_from_env

            backend = secrets_from_env()
            client = getattr(backend, "client", None)
            if client is None:  # pragma: no cover - VAULT_ADDR always selects Vault
                raise RuntimeError("VAULT_ADDR is set but the secrets backend is not Vault")
            return TransitSigner(client(), key)

        return _LazySigner(transit, f"Vault Transit key {key}")
    directory = state.directory
    if directory is None:
        raise ConfigError(
            f"the state location {state.location} is shared by every step, so its signing key "
            "must be too: set VAULT_ADDR so that the Vault Transit key signs"
        )
    path = directory / "keys" / local_key_name
    # created on first use, so that a command that only reads never writes a private key
    return _LazySigner(lambda: LocalEd25519Signer.load_or_create(path), f"local key {path}")
