"""Content-addressed artifact stores: every artifact is stored once, under its own sha256.

:class:`ArtifactStore` is the protocol; :class:`~samdops.store.local.LocalStore` is the embedded
default. Use :func:`open_store` to get a store from a location string.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from samdops.errors import ConfigError


@runtime_checkable
class ArtifactStore(Protocol):
    """A write-once, content-addressed store. Every read verifies the digest."""

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` (once) and return its ``sha256:<hex>`` digest."""
        ...

    def put_file(self, path: str | Path) -> str:
        """Store the file at ``path`` (once) and return its digest."""
        ...

    def get_bytes(self, digest: str) -> bytes:
        """Return the bytes stored under ``digest``; raise if missing or if they do not verify."""
        ...

    def get_file(self, digest: str, dest: str | Path) -> Path:
        """Write the verified content of ``digest`` to ``dest`` atomically and return ``dest``."""
        ...

    def exists(self, digest: str) -> bool:
        """Whether content for ``digest`` is stored."""
        ...

    def uri(self, digest: str) -> str:
        """Where the content of ``digest`` lives, as a URI (no credentials)."""
        ...


def open_store(location: str | Path) -> ArtifactStore:
    """Open the store at ``location``: a directory path or ``file://`` URI."""
    text = str(location)
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" in text:
        raise ConfigError(
            f"unsupported store location {str(location)!r}; use a directory path or file:// URI"
        )
    from samdops.store.local import LocalStore

    return LocalStore(Path(text))


__all__ = ["ArtifactStore", "open_store"]
