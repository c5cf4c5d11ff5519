"""Signed checkpoints: tree size, root hash, time, key id and signature, as a text note.

The format follows the C2SP ``tlog-checkpoint`` / signed-note layout, with the time as a body
line. The signed message is the body, every line ending in ``\\n``::

    <origin>
    <tree size, decimal>
    <root hash, base64>
    time <UTC RFC 3339 with ms>

    — <key id> <signature, base64>

The key id is ``sha256:<hex>`` of the signer's DER public key (see :mod:`.signer`). A checkpoint
is anchored outside the platform (SIEM, WORM storage) so that a rewritten history with a
re-signed checkpoint still shows against the anchored copy (AT-05).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from samdops.audit.signer import Signer, key_id_for, verify_signature
from samdops.clock import utc_timestamp
from samdops.errors import CheckpointInvalid, SignatureInvalid

_SIG_PREFIX = "\u2014 "
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the log of ``origin`` had ``size`` entries with ``root``."""

    origin: str
    size: int
    root: bytes
    time: str
    key_id: str
    signature: bytes

    def __post_init__(self) -> None:
        if not self.origin or any(c.isspace() for c in self.origin):
            raise CheckpointInvalid(f"checkpoint origin {self.origin!r} must be one word")
        if self.size < 0:
            raise CheckpointInvalid(f"checkpoint size {self.size} is negative")
        if len(self.root) != 32:
            raise CheckpointInvalid(f"checkpoint root has {len(self.root)} bytes, expected 32")
        if not _TIME_RE.match(self.time):
            raise CheckpointInvalid(f"checkpoint time {self.time!r} is not RFC 3339 with ms")

    def body(self) -> bytes:
        """The signed message."""
        root = base64.b64encode(self.root).decode()
        return f"{self.origin}\n{self.size}\n{root}\ntime {self.time}\n".encode()

    def to_note(self) -> str:
        """The checkpoint as a signed note (text)."""
        sig = base64.b64encode(self.signature).decode()
        return f"{self.body().decode()}\n{_SIG_PREFIX}{self.key_id} {sig}\n"

    @classmethod
    def from_note(cls, text: str) -> Checkpoint:
        """Parse a signed note; raise :class:`CheckpointInvalid` if it is malformed."""
        body, sep, sig_block = text.partition("\n\n")
        lines = body.split("\n")
        sig_lines = sig_block.rstrip("\n").split("\n")
        if not sep or len(lines) != 4 or len(sig_lines) != 1 or not text.endswith("\n"):
            raise CheckpointInvalid("checkpoint is not a note of 4 body lines and 1 signature")
        origin, size_text, root_text, time_line = lines
        parts = sig_lines[0].split(" ")
        if (
            not size_text.isdigit()
            or not time_line.startswith("time ")
            or len(parts) != 3
            or parts[0] != _SIG_PREFIX.strip()
        ):
            raise CheckpointInvalid("checkpoint lines are not: origin, size, root, time, signature")
        try:
            root = base64.b64decode(root_text, validate=True)
            signature = base64.b64decode(parts[2], validate=True)
        except binascii.Error:
            raise CheckpointInvalid("checkpoint root or signature is not base64") from None
        return cls(origin, int(size_text), root, time_line[5:], parts[1], signature)

    def verify(self, public_pem: bytes) -> None:
        """Check the signature with ``public_pem``; return or raise :class:`CheckpointInvalid`."""
        # 1. The checkpoint must name the key we were given.
        expected = key_id_for(public_pem)
        if self.key_id != expected:
            raise CheckpointInvalid(
                f"checkpoint at size {self.size} is signed by key {self.key_id}, "
                f"not by the trusted key {expected}"
            )
        # 2. The signature must verify over the body.
        try:
            verify_signature(public_pem, self.body(), self.signature)
        except SignatureInvalid:
            raise CheckpointInvalid(
                f"checkpoint at size {self.size} has an invalid signature for key {self.key_id}"
            ) from None


def sign_checkpoint(origin: str, size: int, root: bytes, signer: Signer) -> Checkpoint:
    """Sign a checkpoint for ``size`` and ``root`` at the current time."""
    unsigned = Checkpoint(origin, size, root, utc_timestamp(), signer.key_id, b"")
    return Checkpoint(
        origin, size, root, unsigned.time, signer.key_id, signer.sign(unsigned.body())
    )
