"""The append-only, tamper-evident audit log (AT-01, AT-04, AT-11).

Fail closed (AT-11). :meth:`AuditLog.append` returns an :class:`AuditRecord` only once the entry
is durable (fsynced file, fsynced directory); otherwise it raises
:class:`~samdops.errors.AuditError`. Callers record first and act second::

    record = log.append(draft)      # raises -> the change must not happen
    publish(change)                 # runs only after a durable audit entry

The entry is the commit point of the change it describes. If the action then fails, the caller
appends a second event with ``outcome=failure``; a denied request is recorded with ``denied``.
The guarantee is one-way: an action never happens without its entry, but if ``append`` raises
after the entry became visible (say the directory fsync failed) the log may hold an entry for an
action that did not happen.

Concurrency. Entry ``n`` is created with an atomic create-if-absent (``link``, like ``O_EXCL``)
and its content commits to the leaf hash of entry ``n - 1``, which the writer read from the
store. So each sequence number has exactly one entry, and that entry extends the one before it:
the log cannot fork. A writer that loses the race for ``n`` reads the winner's entry, restamps its
event and retries at ``n + 1``; ``append`` returns only after its own create succeeded, so no
entry is lost. Event times are stamped per attempt, so they increase per writer but may
interleave slightly across writers.

SIEM. After the durable append, each :class:`~samdops.audit.siem.EventSink` receives the record.
A sink failure is logged, kept in :attr:`AuditLog.sink_failures` and never affects the entry;
:meth:`AuditLog.replay` resends from the log, which stays the source of truth.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from samdops.audit.checkpoint import Checkpoint, sign_checkpoint
from samdops.audit.entry import GENESIS, AuditRecord, decode_entry, encode_entry
from samdops.audit.event import EventDraft
from samdops.audit.merkle import MerkleTree, leaf_hash, verify_inclusion
from samdops.audit.siem import EventSink
from samdops.audit.signer import Signer
from samdops.audit.store import EntryStore, LocalEntryStore
from samdops.audit.verify import VerifiedLog, load_checkpoints, verify_log
from samdops.errors import AuditError, AuditVerificationError, VerificationError
from samdops.settings import samdops_home

_log = logging.getLogger("samdops.audit")
MAX_APPEND_ATTEMPTS = 10_000


@dataclass(frozen=True)
class SinkFailure:
    """A sink that could not take a durable entry (the entry itself is safe)."""

    seq: int
    sink: str
    error: str


def default_log_dir() -> Path:
    """``<samdops home>/audit``."""
    return samdops_home() / "audit"


class AuditLog:
    """An append-only log of audit events in an :class:`EntryStore`, with signed checkpoints."""

    def __init__(
        self,
        store: EntryStore,
        *,
        signer: Signer | None = None,
        sinks: Sequence[EventSink] = (),
        origin: str = "samdops-audit",
    ) -> None:
        self.store = store
        self.signer = signer
        self.sinks = tuple(sinks)
        self.origin = origin
        self.sink_failures: list[SinkFailure] = []
        self.lost_races = 0  # appends retried because another writer took the position
        self._tree = MerkleTree()
        self._records: list[AuditRecord] = []
        self._checked_gaps = False
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        directory: str | Path | None = None,
        *,
        signer: Signer | None = None,
        sinks: Sequence[EventSink] = (),
        origin: str = "samdops-audit",
    ) -> AuditLog:
        """The log in ``directory`` (default ``<samdops home>/audit``) on the local store."""
        store = LocalEntryStore(Path(directory) if directory else default_log_dir())
        return cls(store, signer=signer, sinks=sinks, origin=origin)

    def __repr__(self) -> str:
        return f"AuditLog({self.store!r}, origin={self.origin!r})"

    # -- writing --------------------------------------------------------------------------------

    def append(self, draft: EventDraft) -> AuditRecord:
        """Stamp ``draft`` and store it durably; return the record or raise :class:`AuditError`.

        The action the event records must run only after this returns (AT-11).
        """
        if not isinstance(draft, EventDraft):
            raise AuditError(f"append takes an EventDraft; got {type(draft).__name__}")
        with self._lock:
            self._sync()
            for _ in range(MAX_APPEND_ATTEMPTS):
                seq = len(self._records)
                prev = self._records[-1].digest if self._records else GENESIS
                event = draft.stamp()
                data, leaf = encode_entry(seq, prev, event)
                if self.store.create_if_absent(seq, data):
                    record = AuditRecord(seq, prev, event, leaf)
                    self._add(record)
                    break
                self.lost_races += 1
                self._sync()  # another writer took seq; catch up and retry after it
            else:
                raise AuditError(f"gave up appending after {MAX_APPEND_ATTEMPTS} lost races")
        self._fan_out(record)
        return record

    def checkpoint(self) -> Checkpoint:
        """Sign and store a checkpoint of the current size; return it (or the one stored first).

        Checkpoints are write-once per size: if another writer checkpointed the same size, its
        checkpoint (same size and root) is returned.
        """
        if self.signer is None:
            raise AuditError("this audit log has no signer; open it with signer=... to checkpoint")
        with self._lock:
            self._sync()
            size = len(self._records)
            checkpoint = sign_checkpoint(self.origin, size, self._tree.root(size), self.signer)
            if not self.store.put_checkpoint(size, checkpoint.to_note().encode()):
                stored = self.store.read_checkpoint(size) or b""
                checkpoint = Checkpoint.from_note(stored.decode("utf-8"))
                if checkpoint.root != self._tree.root(size):
                    raise AuditError(
                        f"a stored checkpoint for size {size} has a different root; "
                        "run `samdops audit verify`"
                    )
                return checkpoint
        for sink in self.sinks:
            try:
                sink.emit_checkpoint(checkpoint)
            except Exception as exc:
                self._sink_failed(size, sink, exc)
        return checkpoint

    def replay(self, sink: EventSink, start: int = 0) -> int:
        """Resend entries ``start..`` to ``sink`` (after a SIEM outage); return how many."""
        count = 0
        for record in self.entries(start):
            sink.emit(record)
            count += 1
        return count

    # -- reading --------------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            self._sync()
            return len(self._records)

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[AuditRecord]:
        """The records ``start`` to ``stop`` (default: to the end), in order."""
        with self._lock:
            self._sync()
            records = self._records[start:stop]
        return iter(records)

    def record(self, seq: int) -> AuditRecord:
        """The record at ``seq``."""
        with self._lock:
            self._sync()
            if not 0 <= seq < len(self._records):
                raise AuditError(f"the audit log has no entry {seq} (size {len(self._records)})")
            return self._records[seq]

    def checkpoints(self) -> list[Checkpoint]:
        """The stored checkpoints, by size (not verified; see :meth:`verify`)."""
        return load_checkpoints(self.store)

    def root(self, size: int | None = None) -> bytes:
        """The Merkle root of the first ``size`` entries (default: all)."""
        with self._lock:
            self._sync()
            return self._tree.root(size)

    def prove_inclusion(self, seq: int, size: int | None = None) -> list[bytes]:
        """Inclusion proof of entry ``seq`` in the tree of ``size`` entries (RFC 9162)."""
        with self._lock:
            self._sync()
            try:
                return self._tree.inclusion_proof(seq, size)
            except ValueError as exc:
                raise AuditError(str(exc)) from None

    def prove_consistency(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Consistency proof from ``old_size`` to ``new_size`` entries (RFC 9162)."""
        with self._lock:
            self._sync()
            try:
                return self._tree.consistency_proof(old_size, new_size)
            except ValueError as exc:
                raise AuditError(str(exc)) from None

    # -- verifying ------------------------------------------------------------------------------

    def verify(
        self,
        public_key_pem: bytes,
        *,
        trusted: Sequence[Checkpoint] = (),
        require_checkpoint: bool = True,
    ) -> VerifiedLog:
        """Verify the whole log from its store; see :func:`samdops.audit.verify.verify_log`."""
        return verify_log(
            self.store,
            public_key_pem,
            trusted=trusted,
            require_checkpoint=require_checkpoint,
            origin=self.origin,
        )

    def verify_entry(self, seq: int, checkpoint: Checkpoint, public_key_pem: bytes) -> AuditRecord:
        """Verify that entry ``seq`` as stored now is included in a signed ``checkpoint``."""
        # 1. The checkpoint must be signed by the trusted key.
        checkpoint.verify(public_key_pem)
        # 2. The entry must exist under the checkpoint and parse.
        if not 0 <= seq < checkpoint.size:
            raise AuditVerificationError(
                f"entry {seq} is not covered by the checkpoint at size {checkpoint.size}", index=seq
            )
        data = self.store.read(seq)
        if data is None:
            raise AuditVerificationError(f"entry {seq} is missing", index=seq)
        record = decode_entry(seq, data)
        # 3. Its leaf hash plus the proof must lead to the signed root.
        tree = MerkleTree()
        for index in range(checkpoint.size):
            raw = self.store.read(index)
            if raw is None:
                raise AuditVerificationError(f"entry {index} is missing", index=index)
            tree.append(_stored_leaf(index, raw))
        try:
            verify_inclusion(
                seq, checkpoint.size, record.leaf_hash, tree.inclusion_proof(seq), checkpoint.root
            )
        except VerificationError as exc:
            raise AuditVerificationError(
                f"entry {seq} is not included in the checkpoint at size {checkpoint.size}: {exc}",
                index=seq,
            ) from None
        return record

    # -- internals ------------------------------------------------------------------------------

    def _sync(self) -> None:
        """Read entries other writers appended since we last looked (caller holds the lock)."""
        if not self._checked_gaps:
            seqs = self.store.sequence_numbers()
            if seqs and seqs[-1] != len(seqs) - 1:
                first = next(i for i, s in enumerate(seqs) if s != i)
                raise AuditError(
                    f"the audit log is damaged: entry {first} is missing; refusing to use it "
                    "(run `samdops audit verify`)"
                )
            self._checked_gaps = True
        while (data := self.store.read(len(self._records))) is not None:
            seq = len(self._records)
            try:
                record = decode_entry(seq, data)
            except AuditVerificationError as exc:
                raise AuditError(f"the audit log is damaged, refusing to use it: {exc}") from None
            expected = self._records[-1].digest if self._records else GENESIS
            if record.prev != expected:
                raise AuditError(
                    f"the audit log is damaged, refusing to use it: entry {seq} does not match "
                    f"the chain (prev_hash {record.prev}, entry {seq - 1} hashes to {expected})"
                )
            self._add(record)

    def _add(self, record: AuditRecord) -> None:
        self._records.append(record)
        self._tree.append(record.leaf_hash)

    def _fan_out(self, record: AuditRecord) -> None:
        for sink in self.sinks:
            try:
                sink.emit(record)
            except Exception as exc:
                self._sink_failed(record.seq, sink, exc)

    def _sink_failed(self, seq: int, sink: EventSink, exc: Exception) -> None:
        failure = SinkFailure(seq, repr(sink), f"{type(exc).__name__}: {exc}")
        self.sink_failures.append(failure)
        _log.error("audit entry %d is durable but %s failed: %s", seq, sink, failure.error)


def _stored_leaf(index: int, data: bytes) -> bytes:
    """The leaf hash of a stored entry's body (a wrong one shows as a wrong root)."""
    return leaf_hash(data.split(b"\n", 1)[0])
