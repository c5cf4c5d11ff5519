"""Where audit entries and checkpoints live: the :class:`EntryStore` protocol and a local one.

Every batch of entries, tile, bundle and checkpoint is a write-once object. The one primitive
the log needs is an atomic *create-if-absent*: of several writers racing for the batch that
begins with entry ``n`` exactly one succeeds, and the losers learn that they lost (see
:mod:`samdops.audit.log` for why that makes concurrent appends safe, and :mod:`.layout` for
batches, bundles and tiles).

:class:`LocalEntryStore` (the embedded default, ``<samdops home>/audit/``) writes the bytes to a
private temporary file, fsyncs it, ``link``\\ s it to ``entries/<12-digit seq>.entry`` (``link``
fails with ``EEXIST`` if the name exists, like ``O_EXCL``, and readers never see a partial file),
fsyncs the directory, and makes the file read-only. Checkpoints go to
``checkpoints/<12-digit size>.note``, tiles and bundles to ``tile/...`` the same way. Both are
:class:`~samdops.store.documents.LocalDocuments`.

On S3 (:mod:`samdops.audit.s3_store`) the same primitive is a conditional PUT
(``If-None-Match: *``), with Object Lock retention on every object. :class:`DocumentEntryStore`
keeps the log in any document store, e.g. under ``audit/`` of the state location.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from samdops.errors import AuditError, StoreError
from samdops.store.documents import DocumentStore, LocalDocuments, numbered, numbers

if TYPE_CHECKING:
    from samdops.store.state import StateLocation


@runtime_checkable
class EntryStore(Protocol):
    """Write-once storage for numbered log entries and checkpoints."""

    def create_if_absent(self, seq: int, data: bytes) -> bool:
        """Durably store the batch that begins with entry ``seq``; ``False`` (and no change) if
        one already exists."""
        ...

    def read(self, seq: int) -> bytes | None:
        """The bytes of the batch that begins with entry ``seq``, or ``None``."""
        ...

    def read_current(self, seq: int) -> bytes | None:
        """Like :meth:`read`, but the current version where a store keeps several (one request
        on S3): what a writer catching up on other writers' batches reads."""
        ...

    def sequence_numbers(self) -> list[int]:
        """The first entry of every stored batch, ascending."""
        ...

    def put_tile(self, key: str, data: bytes) -> bool:
        """Durably store tile or bundle ``key`` (``tile/...``); ``False`` if it exists."""
        ...

    def read_tile(self, key: str) -> bytes | None:
        """The bytes of tile or bundle ``key``, or ``None``."""
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


class DocumentEntryStore:
    """Entries ``<prefix>/entries/<seq>.entry`` and checkpoints ``<prefix>/checkpoints/<size>.note``
    as write-once documents of any :class:`~samdops.store.documents.DocumentStore`."""

    def __init__(self, documents: DocumentStore, prefix: str = "audit") -> None:
        self.documents = documents
        self._entries = f"{prefix}/entries" if prefix else "entries"
        self._checkpoints = f"{prefix}/checkpoints" if prefix else "checkpoints"
        self._prefix = f"{prefix}/" if prefix else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.documents.location!r})"

    def create_if_absent(self, seq: int, data: bytes) -> bool:
        with _as_audit_error():
            return self.documents.create(numbered(self._entries, seq, "entry"), data)

    def read(self, seq: int) -> bytes | None:
        with _as_audit_error():
            return self.documents.read(numbered(self._entries, seq, "entry"))

    def read_current(self, seq: int) -> bytes | None:
        current = getattr(self.documents, "read_current", self.documents.read)
        with _as_audit_error():
            data: bytes | None = current(numbered(self._entries, seq, "entry"))
            return data

    def sequence_numbers(self) -> list[int]:
        with _as_audit_error():
            return numbers(self.documents, self._entries, "entry")

    def put_tile(self, key: str, data: bytes) -> bool:
        with _as_audit_error():
            return self.documents.create(self._prefix + key, data)

    def read_tile(self, key: str) -> bytes | None:
        with _as_audit_error():
            return self.documents.read(self._prefix + key)

    def put_checkpoint(self, size: int, note: bytes) -> bool:
        with _as_audit_error():
            return self.documents.create(numbered(self._checkpoints, size, "note"), note)

    def read_checkpoint(self, size: int) -> bytes | None:
        with _as_audit_error():
            return self.documents.read(numbered(self._checkpoints, size, "note"))

    def checkpoint_sizes(self) -> list[int]:
        with _as_audit_error():
            return numbers(self.documents, self._checkpoints, "note")

    def rewritten(self) -> list[str]:
        """Keys of entries or checkpoints someone wrote a second version of (a versioned S3
        bucket keeps them; a directory cannot tell)."""
        rewritten = getattr(self.documents, "rewritten", None)
        if rewritten is None:
            return []
        with _as_audit_error():
            found: list[str] = [
                *rewritten(self._entries),
                *rewritten(self._checkpoints),
                *rewritten(self._prefix + "tile"),
            ]
            return found


@contextlib.contextmanager
def _as_audit_error() -> Iterator[None]:
    """The log's storage failures are audit failures: the action they record must not happen."""
    try:
        yield
    except StoreError as exc:
        raise AuditError(str(exc)) from None


def state_entry_store(state: StateLocation) -> DocumentEntryStore:
    """The audit log under ``audit/`` of the state location."""
    directory = state.directory
    if directory is not None:
        return LocalEntryStore(directory / "audit")
    return DocumentEntryStore(state.documents, "audit")


class LocalEntryStore(DocumentEntryStore):
    """Entries and checkpoints as read-only files in a directory, created exclusively."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._files = LocalDocuments(self.root, what="audit object", error=AuditError)
        super().__init__(self._files, prefix="")

    def entry_path(self, seq: int) -> Path:
        """The file that holds entry ``seq``."""
        return self._files.path(numbered("entries", seq, "entry"))

    def checkpoint_path(self, size: int) -> Path:
        """The file that holds the checkpoint for tree ``size``."""
        return self._files.path(numbered("checkpoints", size, "note"))
