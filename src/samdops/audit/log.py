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

Concurrency. Entries are committed in batches (:mod:`.layout`): the batch that begins with entry
``n`` is created with an atomic create-if-absent (``link`` like ``O_EXCL``, or a conditional PUT)
and its first entry commits to the leaf hash of entry ``n - 1``, which the writer read from the
store. So each position has exactly one entry, and that entry extends the one before it: the log
cannot fork. A writer that loses the race for ``n`` reads the winner's batch, restamps its events
and retries after it; ``append`` returns only after its own create succeeded, so no entry is lost.
Event times are stamped per attempt, so they increase per writer but may interleave slightly
across writers.

Group commit. Threads that append to one :class:`AuditLog` at the same time share commits: one
of them (the leader) writes every waiting event in one batch, and signs one checkpoint for the
batch; the others wait until that batch is durable. One event costs one write when a process
appends alone, and a busy process gets many events per write.

Coverage (AT-11). An entry is tamper-evident only once a signed checkpoint covers it: an entry
after the latest checkpoint could be deleted without a trace. So, on a log with a signer, every
:meth:`AuditLog.append` ends with a checkpoint covering it, and inside ``with log.covered():``
the appends of one operation end with a single checkpoint when the block exits (also when it
raises). A process killed between an append and its checkpoint leaves uncovered entries;
:meth:`AuditLog.recover` (called by every writer before it changes anything) audits that it found
them and signs the checkpoint that covers them. A log without a signer (a bare log in a tool or
a test) appends uncovered entries; checkpoint it explicitly.

Conditional appends. :meth:`AuditLog.append_if` builds the draft from the log as it is at the
commit point (``make`` sees every entry before the new one, and is asked again after a lost
race), so "append unless the log already says so" is atomic across writers.

SIEM. After the durable append, each :class:`~samdops.audit.siem.EventSink` receives the record.
A sink failure is logged, kept in :attr:`AuditLog.sink_failures` and never affects the entry;
:meth:`AuditLog.replay` resends from the log, which stays the source of truth.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from samdops.audit import layout
from samdops.audit.checkpoint import Checkpoint, sign_checkpoint
from samdops.audit.entry import GENESIS, AuditRecord, encode_entry
from samdops.audit.event import (
    Action,
    Actor,
    AuthMethod,
    EventDraft,
    Source,
    SourceKind,
    Target,
)
from samdops.audit.merkle import MerkleTree, verify_inclusion
from samdops.audit.siem import EventSink
from samdops.audit.signer import Signer
from samdops.audit.store import EntryStore, LocalEntryStore
from samdops.audit.tiles import WIDTH
from samdops.audit.verify import VerifiedLog, load_checkpoints, verify_log
from samdops.errors import AuditError, AuditVerificationError, VerificationError
from samdops.settings import samdops_home

_log = logging.getLogger("samdops.audit")
MAX_APPEND_ATTEMPTS = 10_000
BACKOFF_BASE_S = 0.005  # after the n-th lost race in a row, wait up to base * 2**n (jittered)
BACKOFF_MAX_S = 0.2
_jitter = random.Random()  # timing only; never in what is written
RECOVERY_ACTOR = "svc:samdops"  # the recovery a writer makes on behalf of an interrupted one
RECOVERY_KIND = "audit-recovery"


@dataclass(frozen=True)
class SinkFailure:
    """A sink that could not take a durable entry (the entry itself is safe)."""

    seq: int
    sink: str
    error: str


@dataclass
class _Request:
    """One caller's append, waiting for the batch that commits it."""

    make: Callable[[Sequence[AuditRecord]], EventDraft | None]
    cover: bool  # sign a checkpoint before returning (the caller is in no ``covered()`` block)
    done: bool = False
    record: AuditRecord | None = None
    error: BaseException | None = None


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
        self._bodies: dict[int, bytes] = {}  # entries not yet in a bundle, for their bundle
        self._integrated = 0  # bundles and tiles are written up to this entry
        self._present: set[int] = set()  # bundles read from the store beyond that
        self._checked_gaps = False
        self._lock = threading.Lock()  # the records
        self._turn = threading.Condition()  # the queue, and who leads the next commit
        self._leading = False
        self._queue: list[_Request] = []
        self._batch = threading.local()  # depth of ``covered()`` blocks in this thread

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

        The action the event records must run only after this returns (AT-11). With a signer,
        the entry is covered by a signed checkpoint before this returns (or, inside
        :meth:`covered`, when the block exits); if that checkpoint fails the entry is durable but
        uncovered, this raises, and the next writer's :meth:`recover` covers it.
        """
        if not isinstance(draft, EventDraft):
            raise AuditError(f"append takes an EventDraft; got {type(draft).__name__}")
        record = self.append_if(lambda _records: draft)
        assert record is not None  # make never declines
        return record

    def append_if(
        self, make: Callable[[Sequence[AuditRecord]], EventDraft | None]
    ) -> AuditRecord | None:
        """Append ``make(entries)`` unless it is ``None``; return the record or ``None``.

        ``make`` sees every entry before the position the new one takes, and is called again
        after a lost race, so its decision holds at the commit point.
        """
        request = _Request(make, cover=self.signer is not None and not self._depth())
        with self._turn:
            self._queue.append(request)
            while self._leading and not request.done:
                self._turn.wait()
            if not request.done:  # lead: commit everything that is waiting, this one included
                self._leading = True
                batch, self._queue = self._queue, []
        if not request.done:
            try:
                self._lead(batch)
            finally:
                with self._turn:
                    self._leading = False
                    self._turn.notify_all()
        if request.error is not None:
            raise request.error
        return request.record

    def _lead(self, batch: list[_Request]) -> None:
        """Commit ``batch`` (the leader's own request among them), fan it out, cover it."""
        try:
            with self._lock:
                committed = self._commit_all(batch)
        except BaseException as exc:
            for request in batch:
                if not request.done:
                    request.error, request.done = exc, True
            raise
        for request in committed:
            if request.record is not None:
                self._fan_out(request.record)
        if any(r.cover and r.record is not None for r in committed):
            try:
                self._checkpoint(sync=False)  # covers this batch; no need to look for others'
            except BaseException as exc:
                for request in committed:
                    if request.cover:
                        request.error = exc
        for request in batch:
            request.done = True

    def _tentative(self, request: _Request) -> bytes | None:
        """Add ``request``'s entry tentatively to ``_records`` (``make`` sees the entries of the
        batch so far) and return its stored bytes; ``None`` when ``make`` declines."""
        draft = request.make(self._records)
        if draft is None:
            return None
        if not isinstance(draft, EventDraft):
            raise AuditError(f"append takes an EventDraft; got {type(draft).__name__}")
        seq = len(self._records)
        prev = self._records[-1].digest if self._records else GENESIS
        event = draft.stamp()
        entry, leaf = encode_entry(seq, prev, event)
        self._records.append(AuditRecord(seq, prev, event, leaf))
        return entry

    def _drain(self) -> list[_Request]:
        """The requests queued since the leader took its batch."""
        with self._turn:
            more, self._queue = self._queue, []
        return more

    def _commit_all(self, batch: list[_Request]) -> list[_Request]:
        """Write every request of ``batch`` in as few batches as fit (caller holds the lock);
        after a lost race, requests queued meanwhile join ``batch``."""
        pending = list(batch)
        committed: list[_Request] = []
        attempts = 0
        if not self._checked_gaps:
            self._sync()  # later appends try the position they know and catch up if it is taken
        while pending:
            start = len(self._records)
            room = WIDTH - start % WIDTH  # a batch never crosses a bundle boundary
            taken: list[tuple[_Request, AuditRecord | None]] = []
            data: list[bytes] = []
            try:
                for request in pending:
                    if len(data) == room:
                        break
                    request.error = None  # decided again after a lost race
                    try:
                        entry = self._tentative(request)
                    except Exception as exc:  # this caller's draft, not the others' in the batch
                        request.error = exc
                        entry = None
                    if entry is None:
                        taken.append((request, None))
                        continue
                    data.append(entry)
                    taken.append((request, self._records[-1]))
                won = not data or self.store.create_if_absent(start, b"".join(data))
            finally:
                tentative = self._records[start:]
                del self._records[start:]
            if not won:
                attempts += 1
                self.lost_races += 1
                if attempts >= MAX_APPEND_ATTEMPTS:
                    raise AuditError(f"gave up appending after {MAX_APPEND_ATTEMPTS} lost races")
                self._sync()  # another writer took the position; catch up and retry after it
                # Back off a little before racing again, and take what queued meanwhile: under
                # contention fewer, larger batches cost fewer requests than many lost races.
                time.sleep(_jitter.uniform(0, min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**attempts)))
                more = self._drain()
                batch.extend(more)
                pending.extend(more)
                continue
            for stored, entry in zip(tentative, data, strict=True):
                self._add(stored, entry.split(b"\n", 1)[0])
            for request, made in taken:
                request.record = made
                committed.append(request)
            pending = pending[len(taken) :]
            self._integrate()
        return committed

    @contextlib.contextmanager
    def covered(self) -> Iterator[None]:
        """Appends in this block end with one checkpoint covering them, when the block exits.

        The checkpoint is signed also when the block raises (a refused attempt is audited, then
        raised); if it cannot be, the block's own error is raised with a note saying so.
        """
        depth = self._depth()
        self._batch.depth = depth + 1
        start = len(self)
        try:
            yield
        except BaseException as exc:
            self._batch.depth = depth
            if not depth and self.signer is not None and len(self) > start:
                try:
                    self.checkpoint()
                except Exception as failure:
                    exc.add_note(f"and the audit entries it wrote are not checkpointed: {failure}")
            raise
        self._batch.depth = depth
        if not depth and self.signer is not None and len(self) > start:
            self.checkpoint()

    def uncovered(self) -> range:
        """The entries after the latest stored checkpoint; raise if a checkpoint is larger."""
        size = len(self)
        sizes = self.store.checkpoint_sizes()
        covered = max(sizes, default=0)
        if covered > size:
            raise AuditError(
                f"the audit log has {size} entries but a checkpoint covers {covered}: entries "
                "were deleted; refusing to write (run `samdops audit verify`)"
            )
        return range(covered, size)

    def recover(self) -> Checkpoint | None:
        """Cover what an interrupted writer left uncovered; return the new checkpoint, if any.

        Entries after the latest checkpoint (a writer was killed between an append and its
        checkpoint, or is still between them) are recorded in an ``audit-recovery`` event, and
        one checkpoint covers them and it. Without a signer, inside :meth:`covered`, or with
        nothing uncovered, nothing is written.
        """
        if self.signer is None or self._depth():
            return None  # inside covered(), the entries after the checkpoint are this block's
        pending = self.uncovered()
        if not pending:
            return None
        with self.covered():
            recorded = self.append_if(lambda records: _recovery_draft(records, self.store))
        return None if recorded is None else self.latest_checkpoint()

    def latest_checkpoint(self) -> Checkpoint | None:
        """The stored checkpoint of the largest size (not verified)."""
        stored = self.checkpoints()
        return stored[-1] if stored else None

    def checkpoint(self) -> Checkpoint:
        """Sign and store a checkpoint of the current size; return it (or the one stored first).

        Checkpoints are write-once per size: if another writer checkpointed the same size, its
        checkpoint (same size and root) is returned.
        """
        return self._checkpoint(sync=True)

    def _checkpoint(self, *, sync: bool) -> Checkpoint:
        if self.signer is None:
            raise AuditError("this audit log has no signer; open it with signer=... to checkpoint")
        with self._lock:
            if sync:
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
        record = layout.read_entry(self.store, seq)
        if record is None:
            raise AuditVerificationError(f"entry {seq} is missing", index=seq)
        # 3. Its leaf hash plus the proof must lead to the signed root.
        tree = MerkleTree()
        for chunk in layout.read_chunks(self.store):
            for stored in chunk.records[: max(checkpoint.size - chunk.start, 0)]:
                tree.append(stored.leaf_hash)
        if len(tree) < checkpoint.size:
            missing = len(tree)
            raise AuditVerificationError(f"entry {missing} is missing", index=missing)
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
        first = not self._checked_gaps
        starts = self.store.sequence_numbers() if first else []  # listed before reading
        chunks = []
        try:
            listed = set(starts) if first else None
            chunks_read = layout.read_chunks(self.store, len(self._records), listed, current=True)
            for chunk in chunks_read:
                self._take(chunk)
                if first:
                    chunks.append(chunk)
            if first:
                layout.check_no_gap(starts, chunks, len(self._records))
        except AuditVerificationError as exc:
            if exc.index == len(self._records) and "is missing" in str(exc):
                raise AuditError(
                    f"the audit log is damaged: entry {exc.index} is missing; refusing to use it "
                    "(run `samdops audit verify`)"
                ) from None
            raise AuditError(f"the audit log is damaged, refusing to use it: {exc}") from None
        self._checked_gaps = True

    def _take(self, chunk: layout.Chunk) -> None:
        """Add a chunk read from the store, checking the chain inside it."""
        for i, record in enumerate(chunk.records):
            expected = self._records[-1].digest if self._records else GENESIS
            if record.prev != expected:
                raise AuditError(
                    f"the audit log is damaged, refusing to use it: entry {record.seq} does not "
                    f"match the chain (prev_hash {record.prev}, entry {record.seq - 1} hashes to "
                    f"{expected})"
                )
            self._add(record, chunk.bodies[i] if chunk.bodies else None)
        if chunk.bundled:
            self._present.add(chunk.start // WIDTH)
            if self._integrated == chunk.start:
                self._integrated = chunk.end

    def _integrate(self) -> None:
        """Write the bundles and tiles the log has filled (caller holds the lock)."""
        if len(self._records) - self._integrated < WIDTH:
            return
        self._integrated = layout.integrate(
            self.store, self._tree, self._bodies, self._integrated, self._present
        )
        self._present = {n for n in self._present if n * WIDTH >= self._integrated}
        for seq in [s for s in self._bodies if s < self._integrated]:
            del self._bodies[seq]

    def _depth(self) -> int:
        """How many :meth:`covered` blocks this thread is in."""
        depth: int = getattr(self._batch, "depth", 0)
        return depth

    def _add(self, record: AuditRecord, body: bytes | None) -> None:
        self._records.append(record)
        self._tree.append(record.leaf_hash)
        if body is not None and record.seq >= self._integrated:
            self._bodies[record.seq] = body

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


def _recovery_draft(records: Sequence[AuditRecord], store: EntryStore) -> EventDraft | None:
    """The event of a recovery of the entries after the latest checkpoint (``None``: none)."""
    start = max(store.checkpoint_sizes(), default=0)
    if start >= len(records):
        return None  # another writer covered them meanwhile
    last = records[-1]
    return EventDraft(
        actor=Actor(RECOVERY_ACTOR, AuthMethod.SERVICE_ACCOUNT_TOKEN),
        action=Action.CREATE,
        target=Target("audit-log", str(len(records))),
        source=Source(SourceKind.CLI, "recovery"),
        reason="entries were appended but not covered by a signed checkpoint",
        details={
            "kind": RECOVERY_KIND,
            "uncovered_from": str(start),
            "uncovered_to": str(last.seq),
            "last_digest": last.digest,
            "why": "a writer stopped (or is still running) between an append and its "
            "checkpoint; this entry and the checkpoint after it cover those entries",
        },
    )
