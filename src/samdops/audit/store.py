"""Where audit entries and checkpoints live: the :class:`EntryStore` protocol and a local one.

Every entry and every checkpoint is a write-once object. The one primitive the log needs is an
atomic *create-if-absent*: of several writers racing for sequence number ``n`` exactly one
succeeds, and the losers learn that they lost (see :mod:`samdops.audit.log` for why that makes
concurrent appends safe).

:class:`LocalEntryStore` (the embedded default, ``<samdops home>/audit/``) writes the bytes to a
private temporary file, fsyncs it, ``link``\\ s it to ``entries/<12-digit seq>.entry`` (``link``
fails with ``EEXIST`` if the name exists, like ``O_EXCL``, and readers never see a partial file),
fsyncs the directory, and makes the file read-only. Checkpoints go to
``checkpoints/<12-digit size>.note`` the same way.

On S3 (:mod:`samdops.audit.s3_store`) the same primitive is a conditional PUT
(``If-None-Match: *``), with Object Lock retention on every object.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Protocol, runtime_checkable

from samdops.atomic import atomic_write_bytes
from samdops.errors import AuditError

_ENTRY_RE = re.compile(r"^(\d{12})\.entry$")
_NOTE_RE = re.compile(r"^(\d{12})\.note$")


@runtime_checkable
class EntryStore(Protocol):
    """Write-once storage for numbered log entries and checkpoints."""

    def create_if_absent(self, seq: int, data: bytes) -> bool:
        """Durably store entry ``seq``; ``False`` (and no change) if it already exists."""
        ...

    def read(self, seq: int) -> bytes | None:
        """The bytes of entry ``seq``, or ``None`` if there is no such entry."""
        ...

    def sequence_numbers(self) -> list[int]:
        """Every stored entry's sequence number, ascending."""
        ...

    def put_checkpoint(self, size: int, note: bytes) -> bool:
        """Durably store the checkpoint for tree ``size``; ``False`` if one already exists."""
        ...

    def read_checkpoint(self, size: int) -> bytes | None:
        """The checkpoint note for ``size``, or ``None``."""
        ...

    def checkpoint_sizes(self) -> list[int]:
        """The tree sizes that have a stored checkpoint, ascending."""
        ...


class LocalEntryStore:
    """Entries and checkpoints as read-only files in a directory, created exclusively."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._entries = self.root / "entries"
        self._checkpoints = self.root / "checkpoints"

    def __repr__(self) -> str:
        return f"LocalEntryStore({str(self.root)!r})"

    def entry_path(self, seq: int) -> Path:
        """The file that holds entry ``seq``."""
        return self._entries / f"{seq:012d}.entry"

    def checkpoint_path(self, size: int) -> Path:
        """The file that holds the checkpoint for tree ``size``."""
        return self._checkpoints / f"{size:012d}.note"

    def create_if_absent(self, seq: int, data: bytes) -> bool:
        return self._create(self.entry_path(seq), data)

    def read(self, seq: int) -> bytes | None:
        return self._read(self.entry_path(seq))

    def sequence_numbers(self) -> list[int]:
        return self._list(self._entries, _ENTRY_RE)

    def put_checkpoint(self, size: int, note: bytes) -> bool:
        return self._create(self.checkpoint_path(size), note)

    def read_checkpoint(self, size: int) -> bytes | None:
        return self._read(self.checkpoint_path(size))

    def checkpoint_sizes(self) -> list[int]:
        return self._list(self._checkpoints, _NOTE_RE)

    @staticmethod
    def _create(path: Path, data: bytes) -> bool:
        """Exclusive durable create of a read-only file; ``False`` only if ``path`` exists."""
        if path.exists():
            return False
        try:
            atomic_write_bytes(path, data, exclusive=True, mode=0o444)
        except FileExistsError:
            return False  # another writer won
        except OSError as exc:
            raise AuditError(f"cannot write audit object {path}: {exc}") from exc
        return True

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuditError(f"cannot read audit object {path}: {exc.strerror}") from exc
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    @staticmethod
    def _list(directory: Path, pattern: re.Pattern[str]) -> list[int]:
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise AuditError(f"cannot list audit objects in {directory}: {exc}") from exc
        return sorted(int(m.group(1)) for n in names if (m := pattern.match(n)))
