"""Artifact digests, shared by every pipeline step (training and monitoring).

A step records the sha256 of each output in the artifact's metadata (:func:`record`); the step
that reads it checks the bytes against that digest before using them (:func:`verified`,
:func:`verified_bytes`) and refuses, with :class:`~samdops.errors.DigestMismatch` naming the
input, when the digest is missing, malformed or different.
"""

from __future__ import annotations

from typing import Any, Protocol

from samdops.digest import parse_digest, sha256_file, verify_bytes, verify_file
from samdops.errors import DigestMismatch, VerificationError


class ArtifactLike(Protocol):
    """The part of ``kfp.dsl.Artifact`` the steps use."""

    @property
    def path(self) -> str: ...

    @property
    def uri(self) -> str: ...

    @property
    def metadata(self) -> dict[str, Any]: ...


def record(artifact: ArtifactLike, **metadata: Any) -> str:
    """Record the sha256 of the artifact's bytes (and ``metadata``) with it; return the digest."""
    digest = sha256_file(artifact.path)
    artifact.metadata["sha256"] = digest
    artifact.metadata.update(metadata)
    return digest


def _recorded(artifact: ArtifactLike, what: str) -> str:
    """The digest recorded with the artifact, normalised; refuse a missing or malformed one."""
    recorded = artifact.metadata.get("sha256")
    if not recorded:
        raise DigestMismatch(f"{what} carries no sha256 digest; refusing to use unverified input")
    try:
        return parse_digest(str(recorded))
    except VerificationError:
        raise DigestMismatch(
            f"{what} carries a malformed sha256 digest {str(recorded)!r}; "
            "refusing to use unverified input"
        ) from None


def verified(artifact: ArtifactLike, what: str) -> str:
    """The artifact's path, after checking its bytes against the digest recorded with it."""
    verify_file(artifact.path, _recorded(artifact, what), what=what)
    return artifact.path


def verified_bytes(artifact: ArtifactLike, what: str) -> tuple[bytes, str]:
    """The artifact's bytes, read once and checked against its recorded digest, and the digest."""
    expected = _recorded(artifact, what)
    with open(artifact.path, "rb") as f:
        data = f.read()
    return data, verify_bytes(data, expected, what)
