"""Write-once documents by key: registry records, test sets, users, audit entries, monitoring.

:class:`DocumentStore` is the one primitive every durable record needs: *create if absent*, so
that of several writers racing for a key exactly one wins and the others learn that they lost.
:class:`LocalDocuments` keeps each document as a read-only file under a directory (created by
``link``, like ``O_EXCL``); :class:`~samdops.store.s3_documents.S3Documents` is a conditional
PUT (``If-None-Match: *``). Keys are ``/``-separated paths relative to the store's root.

Numbered documents (:func:`create_next`, :func:`latest`) give race-free sequences on top: a
version number is claimed by creating its key, and a document that changes (the user directory)
is a sequence of snapshots, the newest in force.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from samdops.atomic import atomic_write_bytes
from samdops.errors import SamdopsError, StoreError

_KEY_PART = re.compile(r"^[A-Za-z0-9@._:-]+$")
_ATTEMPTS = 1000


@runtime_checkable
class DocumentStore(Protocol):
    """Write-once documents under ``/``-separated keys."""

    location: str
    """Where the documents live, as a path or ``s3://BUCKET/PREFIX`` (no credentials)."""

    def create(self, key: str, data: bytes) -> bool:
        """Durably store ``data`` at ``key``; ``False`` (and no change) if ``key`` exists."""
        ...

    def read(self, key: str) -> bytes | None:
        """The bytes first stored at ``key``, or ``None``."""
        ...

    def names(self, prefix: str) -> list[str]:
        """The names directly under ``prefix``, sorted; a name ending in ``/`` has children."""
        ...


def check_key(key: str) -> str:
    """``key`` if every part is a plain name (no ``..``, no empty part); else raise."""
    parts = key.split("/")
    if not all(_KEY_PART.match(p) and p not in (".", "..") for p in parts):
        raise StoreError(f"invalid document key {key!r}")
    return key


def numbered(prefix: str, number: int, suffix: str, width: int = 12) -> str:
    """``<prefix>/<number, zero-padded>.<suffix>``."""
    return f"{prefix}/{number:0{width}d}.{suffix}"


def _numbered_names(store: DocumentStore, prefix: str, suffix: str) -> list[tuple[int, str]]:
    tail = f".{suffix}"
    found = []
    for name in store.names(prefix):
        stem = name[: -len(tail)]
        if name.endswith(tail) and stem.isdigit():
            found.append((int(stem), name))
    return sorted(found)


def numbers(store: DocumentStore, prefix: str, suffix: str) -> list[int]:
    """The numbers of the ``<n>.<suffix>`` documents directly under ``prefix``, ascending."""
    return [number for number, _ in _numbered_names(store, prefix, suffix)]


def create_next(
    store: DocumentStore,
    prefix: str,
    suffix: str,
    make: Callable[[int], bytes],
    *,
    width: int = 12,
) -> int:
    """Create ``<prefix>/<n>.<suffix>`` for the next free ``n`` (from 1), holding ``make(n)``.

    Concurrent callers get distinct numbers: a number is claimed by creating its key, and a
    caller that loses the race tries the next one.
    """
    known = numbers(store, prefix, suffix)
    number = (known[-1] if known else 0) + 1
    for _ in range(_ATTEMPTS):
        if store.create(numbered(prefix, number, suffix, width), make(number)):
            return number
        number += 1
    raise StoreError(f"could not claim a number under {store.location}/{prefix}")


def latest(store: DocumentStore, prefix: str, suffix: str) -> tuple[int, bytes] | None:
    """The highest-numbered ``<n>.<suffix>`` document under ``prefix``, with its number."""
    names = _numbered_names(store, prefix, suffix)
    if not names:
        return None
    number, name = names[-1]
    data = store.read(f"{prefix}/{name}")
    return None if data is None else (number, data)


class LocalDocuments:
    """Documents as read-only files under ``root``, each created exclusively and fsynced."""

    def __init__(
        self,
        root: str | Path,
        *,
        what: str = "state object",
        error: type[SamdopsError] = StoreError,
    ) -> None:
        self.root = Path(root)
        self.location = str(self.root)
        self._what = what
        self._error = error

    def __repr__(self) -> str:
        return f"LocalDocuments({self.location!r})"

    def path(self, key: str) -> Path:
        """The file that holds ``key``."""
        return self.root / check_key(key)

    def create(self, key: str, data: bytes) -> bool:
        path = self.path(key)
        if path.exists():
            return False
        try:
            atomic_write_bytes(path, data, exclusive=True, mode=0o444)
        except FileExistsError:
            return False  # another writer won
        except OSError as exc:
            raise self._error(f"cannot write {self._what} {path}: {exc}") from exc
        return True

    def read(self, key: str) -> bytes | None:
        path = self.path(key)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._error(f"cannot read {self._what} {path}: {exc.strerror}") from exc
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def names(self, prefix: str) -> list[str]:
        directory = self.path(prefix) if prefix else self.root
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise self._error(f"cannot list {self._what}s in {directory}: {exc}") from exc
        return sorted(
            e.name + "/" if e.is_dir() else e.name for e in entries if not e.name.startswith(".")
        )
