"""Signing keys for audit checkpoints: the :class:`Signer` protocol and a local Ed25519 key.

The embedded default is :class:`LocalEd25519Signer`, a PKCS#8 PEM private key in a file created
with mode 0600 (``<samdops home>/keys/audit-ed25519.pem``). A Vault Transit signer comes later
behind the same protocol; Vault's ed25519 keys produce the same signatures, so verification does
not change. Public keys are exported as SubjectPublicKeyInfo PEM and verify offline with
:func:`verify_signature`. A key id is ``sha256:<hex>`` of the DER SubjectPublicKeyInfo.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from samdops.atomic import atomic_write_bytes
from samdops.errors import ConfigError, SignatureInvalid
from samdops.settings import samdops_home

DEFAULT_KEY_NAME = "audit-ed25519.pem"


@runtime_checkable
class Signer(Protocol):
    """Signs bytes with a key whose public half can be exported for offline verification."""

    @property
    def key_id(self) -> str:
        """``sha256:<hex>`` of the DER SubjectPublicKeyInfo of the public key."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Return the signature of ``data``."""
        ...

    def public_key_pem(self) -> bytes:
        """The public key as SubjectPublicKeyInfo PEM."""
        ...


def _load_public_key(public_pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(public_pem)
    except ValueError as exc:
        raise SignatureInvalid(f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureInvalid(f"expected an Ed25519 public key, got {type(key).__name__}")
    return key


def key_id_for(public_pem: bytes) -> str:
    """The key id (``sha256:<hex>`` of the DER SubjectPublicKeyInfo) of a PEM public key."""
    der = _load_public_key(public_pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def verify_signature(public_pem: bytes, data: bytes, signature: bytes) -> None:
    """Check an Ed25519 ``signature`` of ``data``; return or raise :class:`SignatureInvalid`."""
    key = _load_public_key(public_pem)
    try:
        key.verify(signature, data)
    except InvalidSignature:
        raise SignatureInvalid(
            f"signature does not verify with public key {key_id_for(public_pem)}"
        ) from None


class LocalEd25519Signer:
    """An Ed25519 private key held in a local PEM file (mode 0600)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self._public_pem = private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._key_id = key_id_for(self._public_pem)

    def __repr__(self) -> str:
        return f"LocalEd25519Signer(key_id={self._key_id!r})"

    @classmethod
    def load_or_create(cls, path: str | Path | None = None) -> LocalEd25519Signer:
        """Load the key at ``path`` (default under the samdops home), creating it if absent.

        Concurrent creators are safe: the file is created exclusively and a loser loads the
        winner's key. A key file readable by group or others is refused.
        """
        target = Path(path) if path else samdops_home() / "keys" / DEFAULT_KEY_NAME
        if not target.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with contextlib.suppress(FileExistsError):  # another process created it first
                atomic_write_bytes(target, pem, exclusive=True, mode=0o600)
        return cls.load(target)

    @classmethod
    def load(cls, path: str | Path) -> LocalEd25519Signer:
        """Load an existing private key file; refuse one that others can read."""
        target = Path(path)
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
            pem = target.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read signing key {target}: {exc.strerror}") from None
        if mode & 0o077:
            raise ConfigError(f"signing key {target} has mode {mode:04o}; run `chmod 600 {target}`")
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except ValueError as exc:
            raise ConfigError(f"{target} is not a PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{target} holds a {type(key).__name__}, expected Ed25519")
        return cls(key)

    @property
    def key_id(self) -> str:
        return self._key_id

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def public_key_pem(self) -> bytes:
        return self._public_pem
