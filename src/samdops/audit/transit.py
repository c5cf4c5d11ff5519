"""A :class:`~samdops.audit.signer.Signer` backed by a Vault Transit ed25519 key (ES-07).

The private key is created non-exportable in Vault and never leaves it: signing is a call to
``transit/sign/<key>``. The public key is read from ``transit/keys/<key>`` and exported as PEM,
so every signature verifies offline with :func:`~samdops.audit.signer.verify_signature`, years
later, without Vault (ES-08). The key version is pinned when the signer is created, so a key
rotation in Vault never silently changes the key a running process signs with.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from samdops.audit.signer import key_id_for
from samdops.errors import SecretsUnavailable

DEFAULT_MOUNT = "transit"


class TransitSigner:
    """Signs with Transit key ``key`` at ``mount`` through an authenticated hvac client."""

    def __init__(self, client: Any, key: str, *, mount: str = DEFAULT_MOUNT) -> None:
        self._client = client
        self.key = key
        self.mount = mount
        info = self._call("read", lambda: client.secrets.transit.read_key(key, mount_point=mount))
        data = info["data"]
        if data.get("type") != "ed25519":
            raise SecretsUnavailable(
                f"Transit key {mount}/{key} is {data.get('type')}; samdops signs with ed25519"
            )
        if data.get("exportable"):
            raise SecretsUnavailable(
                f"Transit key {mount}/{key} is exportable; signing keys must never leave Vault"
            )
        self.version = int(data["latest_version"])
        raw = base64.b64decode(data["keys"][str(self.version)]["public_key"])
        self._public_pem = Ed25519PublicKey.from_public_bytes(raw).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._key_id = key_id_for(self._public_pem)

    def __repr__(self) -> str:
        return f"TransitSigner({self.mount}/{self.key} v{self.version}, key_id={self._key_id!r})"

    @property
    def key_id(self) -> str:
        return self._key_id

    def public_key_pem(self) -> bytes:
        return self._public_pem

    def sign(self, data: bytes) -> bytes:
        response = self._call(
            "sign with",
            lambda: self._client.secrets.transit.sign_data(
                self.key,
                hash_input=base64.b64encode(data).decode("ascii"),
                key_version=self.version,
                mount_point=self.mount,
            ),
        )
        prefix, version, signature = response["data"]["signature"].split(":", 2)
        if prefix != "vault" or version != f"v{self.version}":
            raise SecretsUnavailable(
                f"Transit signed with {prefix}:{version}, expected v{self.version} of {self.key}"
            )
        return base64.b64decode(signature)

    def _call(self, what: str, call: Any) -> Any:
        import hvac.exceptions
        import requests

        try:
            return call()
        except hvac.exceptions.Forbidden:
            raise SecretsUnavailable(
                f"cannot {what} Transit key {self.mount}/{self.key}: permission denied "
                "(the token's policy must allow it; see manifests/vault/samdops-register.hcl)"
            ) from None
        except hvac.exceptions.InvalidPath:
            raise SecretsUnavailable(
                f"cannot {what} Transit key {self.mount}/{self.key}: no such key "
                "(run `samdops vault bootstrap`)"
            ) from None
        except hvac.exceptions.VaultDown:
            raise SecretsUnavailable(
                f"cannot {what} Transit key {self.mount}/{self.key}: Vault is sealed"
            ) from None
        except (hvac.exceptions.VaultError, requests.RequestException) as exc:
            raise SecretsUnavailable(
                f"cannot {what} Transit key {self.mount}/{self.key}: {type(exc).__name__}"
            ) from None
