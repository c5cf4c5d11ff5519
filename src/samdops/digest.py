"""sha256 digests in the one form used everywhere: ``sha256:<64 hex>``, and canonical JSON."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from samdops.errors import DigestMismatch, VerificationError

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """Return the ``sha256:<hex>`` digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Return the ``sha256:<hex>`` digest of the file at ``path``, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def parse_digest(value: str) -> str:
    """Normalise a digest given as ``sha256:<hex>`` or bare hex; raise if it is malformed."""
    text = value.strip().lower()
    if not text.startswith("sha256:"):
        text = "sha256:" + text
    if not _DIGEST_RE.match(text):
        raise VerificationError(
            f"not a sha256 digest: {value!r}; expected 'sha256:' followed by 64 hex characters"
        )
    return text


def verify_file(path: str | Path, expected: str, what: str | None = None) -> str:
    """Check that the file at ``path`` hashes to ``expected``; return the digest or raise."""
    return _check(sha256_file(path), expected, what or str(path))


def verify_bytes(data: bytes, expected: str, what: str) -> str:
    """Check that ``data`` hashes to ``expected``; return the digest or raise."""
    return _check(sha256_bytes(data), expected, what)


def _check(got: str, expected: str, what: str) -> str:
    want = parse_digest(expected)
    if got != want:
        raise DigestMismatch(
            f"{what} has digest {got}, expected {want}; "
            "the file changed or the wrong file was given"
        )
    return got


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` as canonical JSON (sorted keys, no spaces, UTF-8, no NaN)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
