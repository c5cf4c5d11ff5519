"""Part 11 electronic signatures bound to one exact record version (ES-01, ES-02, ES-08).

A signature covers the manifest ``{record, record_sha256, meaning, signer, name, signed_at}``
as canonical JSON, where ``record_sha256`` is the sha256 of the canonical JSON of the signed
record version. Copying a signature onto another record, or editing the record, breaks
verification (§11.70). The manifest is signed with the platform's signing key (a local Ed25519
key, or a Vault Transit key that never leaves Vault); the public key verifies it offline.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from samdops.audit.signer import Signer, key_id_for, verify_signature
from samdops.digest import canonical_json, sha256_bytes
from samdops.errors import VerificationError
from samdops.governance.text import escaped


class Meaning(StrEnum):
    """The fixed list of signature meanings (ES-01)."""

    AUTHORSHIP = "authorship"
    REVIEW = "review"
    APPROVAL = "approval"
    RESPONSIBILITY = "responsibility"


def record_digest(document: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a record version."""
    return sha256_bytes(canonical_json(document))


@dataclass(frozen=True)
class ElectronicSignature:
    """A signature as stored and shown: who, when, what it means, what it covers."""

    record: str  # name@version
    record_sha256: str
    meaning: Meaning
    signer: str  # unique user id
    name: str  # printed name
    signed_at: str  # UTC, RFC 3339 with ms (from the audit log's clock)
    key_id: str
    signature: str  # base64

    def manifest(self) -> bytes:
        """The bytes the signature covers."""
        return canonical_json(
            {
                "record": self.record,
                "record_sha256": self.record_sha256,
                "meaning": self.meaning.value,
                "signer": self.signer,
                "name": self.name,
                "signed_at": self.signed_at,
            }
        )

    @property
    def digest(self) -> str:
        return sha256_bytes(self.manifest())

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> ElectronicSignature:
        try:
            return cls(**{**data, "meaning": Meaning(data["meaning"])})  # type: ignore[arg-type]
        except (TypeError, KeyError, ValueError) as exc:
            raise VerificationError(f"malformed signature record: {exc}") from None

    def display(self) -> str:
        """The line shown wherever the signed record is shown (ES-01), escaped so that no
        stored value can break it into lines."""
        return escaped(f"{self.name} ({self.signer}), {self.signed_at}, {self.meaning.value}")

    def verify(self, document: dict[str, Any], public_key_pem: bytes) -> None:
        """Raise unless this signature covers exactly ``document`` and verifies with the key.

        1. the record's canonical digest equals the signed ``record_sha256``;
        2. the record's ``name@version`` equals the signed ``record``;
        3. the key id matches the public key;
        4. the Ed25519 signature over the manifest verifies.
        """
        actual = record_digest(document)
        if actual != self.record_sha256:
            raise VerificationError(
                f"signature by {self.signer} ({self.meaning}) covers {self.record_sha256}, but "
                f"the record now hashes to {actual}: the record was changed after signing"
            )
        ref = f"{document.get('name')}@{document.get('version')}"
        if ref != self.record:
            raise VerificationError(
                f"signature by {self.signer} ({self.meaning}) was made for {self.record}, "
                f"not {ref}: a signature cannot be copied to another record"
            )
        if key_id_for(public_key_pem) != self.key_id:
            raise VerificationError(
                f"signature by {self.signer} was made with key {self.key_id}; "
                "verify it with that key's public PEM"
            )
        verify_signature(public_key_pem, self.manifest(), base64.b64decode(self.signature))


def sign_record(
    document: dict[str, Any],
    *,
    meaning: Meaning,
    signer_id: str,
    name: str,
    signed_at: str,
    key: Signer,
) -> ElectronicSignature:
    """Sign record ``document`` (its current canonical bytes) with ``key``."""
    unsigned = ElectronicSignature(
        record=f"{document['name']}@{document['version']}",
        record_sha256=record_digest(document),
        meaning=meaning,
        signer=signer_id,
        name=name,
        signed_at=signed_at,
        key_id=key.key_id,
        signature="",
    )
    raw = key.sign(unsigned.manifest())
    return ElectronicSignature(**{**asdict(unsigned), "signature": base64.b64encode(raw).decode()})
