"""Offline verification of a whole audit log against its signed checkpoints.

:func:`verify_log` returns a :class:`VerifiedLog` or raises
:class:`~samdops.errors.AuditVerificationError` (``index`` = first bad entry) or
:class:`~samdops.errors.CheckpointInvalid`. It reads only the store and the trusted public key.

Steps (each either passes or raises, naming the first entry that fails):

1. read every entry in order, from the full bundles and the committed batches (a gap, or an
   object slipped in, is named), and check its framing, JSON, event schema and recorded position;
2. recompute its leaf hash and compare it with the one it recorded (done before parsing, so a
   flipped byte is reported as an alteration of that entry);
3. check the chain: each entry's ``prev`` is the leaf hash of the one before;
4. check every checkpoint's origin and signature with the trusted key (before trusting a root);
5. recompute the Merkle root at the latest checkpoint's size and compare (truncation shows here);
6. check every earlier checkpoint against the latest with an RFC 9162 consistency proof;
7. check every checkpoint each anchor holds outside the state (:mod:`.anchor`): signed by the
   trusted key, no larger than the log (else its head was deleted: a rollback), and with the root
   the log hashes to at its size (else the log was rewritten and re-signed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from samdops.audit import layout
from samdops.audit.checkpoint import Checkpoint
from samdops.audit.entry import GENESIS
from samdops.audit.merkle import MerkleTree, verify_consistency
from samdops.audit.signer import key_id_for
from samdops.audit.store import EntryStore
from samdops.audit.tiles import WIDTH, tile_key
from samdops.errors import AuditVerificationError, CheckpointInvalid, VerificationError


@dataclass(frozen=True)
class AnchorCopy:
    """The checkpoints one anchor outside the state holds (read by :mod:`.anchor`).

    ``shared``: a stream that may also carry other logs' checkpoints (a SIEM); those, of another
    origin or key, are skipped instead of refused.
    """

    anchor: str
    checkpoints: tuple[Checkpoint, ...]
    shared: bool = False


@dataclass(frozen=True)
class AnchorMatch:
    """An anchor whose checkpoints all agree with the log; ``size`` is the latest (``None``:
    it holds none of this log yet)."""

    anchor: str
    size: int | None
    checked: int


@dataclass(frozen=True)
class VerifiedLog:
    """What a successful verification established."""

    size: int
    checkpoint: Checkpoint | None
    checkpoints_checked: int
    anchors: tuple[AnchorMatch, ...] = ()

    @property
    def unanchored(self) -> int:
        """Entries after the latest checkpoint (covered by the chain only, not yet signed)."""
        return self.size - (self.checkpoint.size if self.checkpoint else 0)


def load_checkpoints(store: EntryStore) -> list[Checkpoint]:
    """Every stored checkpoint, by size; a malformed or misfiled one raises."""
    result = []
    for size in store.checkpoint_sizes():
        note = store.read_checkpoint(size)
        try:
            checkpoint = Checkpoint.from_note((note or b"").decode("utf-8"))
        except (UnicodeDecodeError, CheckpointInvalid) as exc:
            raise CheckpointInvalid(
                f"stored checkpoint for size {size} is unreadable: {exc}"
            ) from None
        if checkpoint.size != size:
            raise CheckpointInvalid(
                f"stored checkpoint for size {size} says size {checkpoint.size}; it was moved"
            )
        result.append(checkpoint)
    return result


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    bundled: bool


@dataclass(frozen=True)
class _Range:
    """What one bundle range (entries ``256k`` to ``256k + 255``) holds, as a worker read it:
    the spans read, each entry's leaf hash and recorded ``prev``, or the first error."""

    spans: tuple[_Span, ...]
    leaves: tuple[bytes, ...]
    prevs: tuple[str, ...]
    error: tuple[str, int | None] | None = None

    @property
    def full(self) -> bool:
        return len(self.leaves) == WIDTH


def _read_range(job: tuple[EntryStore, int, frozenset[int]]) -> _Range:
    """Read and check every entry of bundle range ``k`` (a worker's task)."""
    store, k, listed = job
    spans: list[_Span] = []
    leaves: list[bytes] = []
    prevs: list[str] = []
    position, end = k * WIDTH, (k + 1) * WIDTH
    try:
        while position < end:
            chunk = layout.read_chunk(store, position, listed)
            if chunk is None:
                break
            spans.append(_Span(chunk.start, chunk.end, chunk.bundled))
            leaves.extend(r.leaf_hash for r in chunk.records)
            prevs.extend(r.prev for r in chunk.records)
            position = chunk.end
    except AuditVerificationError as exc:  # exceptions with keywords do not survive pickling
        return _Range(tuple(spans), tuple(leaves), tuple(prevs), (str(exc), exc.index))
    return _Range(tuple(spans), tuple(leaves), tuple(prevs))


def _ranges(store: EntryStore, starts: Sequence[int], workers: int | None) -> Iterator[_Range]:
    """Every bundle range of the log in order, read by ``workers`` processes when the log is
    large and the store can be handed to them (a local directory), else in this process."""
    last = max(starts, default=-1) // WIDTH
    while store.read_tile(tile_key(0, last + 1)) is not None:  # bundles whose batches are gone
        last += 1
    by_range: dict[int, set[int]] = {}
    for start in starts:
        by_range.setdefault(start // WIDTH, set()).add(start)
    jobs = ((store, k, frozenset(by_range.get(k, ()))) for k in range(last + 1))
    count = workers if workers is not None else min(4, os.cpu_count() or 1)
    if count < 2 or last < _PARALLEL_FROM or not _picklable(store):
        yield from map(_read_range, jobs)
        return
    import multiprocessing  # only a large local log pays for worker processes
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(count, mp_context=context) as pool:
        yield from pool.map(_read_range, jobs, chunksize=16)


_PARALLEL_FROM = 64  # bundle ranges (16,384 entries): below this, starting workers costs more


def _picklable(store: EntryStore) -> bool:
    import pickle

    try:
        pickle.dumps(store)
    except Exception:
        return False
    return True


def build_tree(store: EntryStore, *, workers: int | None = None) -> MerkleTree:
    """Steps 1-3: read every entry in order, check it and its chain link; return the tree.

    Entries come from the full bundles (checked against their level-0 tiles) and the committed
    batches (:mod:`.layout`), bundle range by bundle range, in parallel on a large local log;
    every stored higher tile must match the entries too.
    """
    tree = MerkleTree()
    prev = GENESIS
    starts = store.sequence_numbers()  # listed before reading: a batch listed must be read
    spans: list[_Span] = []
    for part in _ranges(store, starts, workers):
        for leaf, recorded in zip(part.leaves, part.prevs, strict=True):
            # 3. The entry must commit to the hash of its predecessor.
            if recorded != prev:
                index = len(tree)
                before = (
                    f"entry {index - 1} hashes to {prev}" if index else f"entry 0 must be {prev}"
                )
                raise AuditVerificationError(
                    f"entry {index} does not match the chain: its prev_hash is {recorded}, "
                    f"{before}",
                    index=index,
                )
            tree.append(leaf)
            prev = "sha256:" + leaf.hex()
        spans.extend(part.spans)
        if part.error is not None:
            message, at = part.error
            raise AuditVerificationError(message, index=at)
        if not part.full:
            break  # the end of the log
    layout.check_no_gap(starts, spans, len(tree))
    layout.check_tiles(store, tree)
    return tree


def verify_log(
    store: EntryStore,
    public_key_pem: bytes,
    *,
    trusted: Sequence[Checkpoint] = (),
    require_checkpoint: bool = True,
    origin: str | None = None,
    anchors: Sequence[AnchorCopy] = (),
) -> VerifiedLog:
    """Verify every entry, the chain, and every checkpoint (stored, ``trusted`` and anchored).

    With ``origin``, every checkpoint must name that log (a checkpoint of another log signed by
    the same key proves nothing about this one).

    ``trusted`` are checkpoints anchored elsewhere (SIEM, WORM storage, an earlier export): they
    catch a history that was rewritten and re-checkpointed inside the platform. ``anchors`` are
    the same, each named in the error when it disagrees with the log (step 7).
    """
    # 1-3. Entries, leaf hashes and the chain.
    tree = build_tree(store)
    verified = _verify_checkpoints(tree, store, public_key_pem, trusted, require_checkpoint, origin)
    # 7. Every anchor outside the state must agree with the log.
    matches = tuple(compare_anchor(tree, copy, public_key_pem, origin) for copy in anchors)
    return VerifiedLog(verified.size, verified.checkpoint, verified.checkpoints_checked, matches)


def _verify_checkpoints(
    tree: MerkleTree,
    store: EntryStore,
    public_key_pem: bytes,
    trusted: Sequence[Checkpoint],
    require_checkpoint: bool,
    origin: str | None,
) -> VerifiedLog:
    """Steps 4-6 over the stored and ``trusted`` checkpoints."""
    size = len(tree)
    checkpoints = sorted([*load_checkpoints(store), *trusted], key=lambda c: c.size)
    if not checkpoints:
        if require_checkpoint and size:
            raise CheckpointInvalid(
                f"the log has {size} entries but no checkpoint; nothing signed covers it"
            )
        return VerifiedLog(size, None, 0)
    # 4. Every checkpoint must carry a valid signature by the trusted key. This comes before any
    #    root is compared, so that a forged checkpoint is reported as forged, not as a rewrite.
    for checkpoint in checkpoints:
        if origin is not None and checkpoint.origin != origin:
            raise CheckpointInvalid(
                f"checkpoint at size {checkpoint.size} is for log {checkpoint.origin!r}, "
                f"not {origin!r}"
            )
        checkpoint.verify(public_key_pem)
    # 5. The latest checkpoint must cover entries that exist, with the root they hash to.
    latest = checkpoints[-1]
    if latest.size > size:
        raise AuditVerificationError(
            f"the log has {size} entries but the checkpoint at size {latest.size} covers "
            f"{latest.size}: entries {size} to {latest.size - 1} are missing (truncated)",
            index=size,
        )
    root = tree.root(latest.size)
    for wrong in (c for c in checkpoints if c.size == latest.size and c.root != root):
        earlier = (c.size for c in checkpoints if c.size < latest.size)
        lower = max((n for n in earlier if _matches(tree, checkpoints, n)), default=0)
        raise CheckpointInvalid(
            f"entries 0 to {latest.size - 1} hash to root sha256:{root.hex()}, but the "
            f"checkpoint at size {latest.size} signed sha256:{wrong.root.hex()}: an entry from "
            f"{lower} to {latest.size - 1} was rewritten and the chain re-forged",
            index=lower,
        )
    # 6. Every earlier checkpoint must be consistent with the latest (no fork, no rewrite).
    for checkpoint in checkpoints[:-1]:
        proof = tree.consistency_proof(checkpoint.size, latest.size) if checkpoint.size else []
        try:
            verify_consistency(checkpoint.size, latest.size, checkpoint.root, latest.root, proof)
        except VerificationError as exc:
            raise CheckpointInvalid(
                f"checkpoint at size {checkpoint.size} is not consistent with the checkpoint "
                f"at size {latest.size} ({exc}): the log was forked or rewritten"
            ) from None
    return VerifiedLog(size, latest, len(checkpoints))


def compare_anchor(
    tree: MerkleTree, copy: AnchorCopy, public_key_pem: bytes, origin: str | None = None
) -> AnchorMatch:
    """Step 7 for one anchor: return how it matches the log, or raise naming the anchor."""
    key_id = key_id_for(public_key_pem)
    own = []
    for checkpoint in copy.checkpoints:
        foreign = (origin is not None and checkpoint.origin != origin) or (
            checkpoint.key_id != key_id
        )
        if copy.shared and foreign:
            continue  # another log's checkpoint in a shared stream
        if origin is not None and checkpoint.origin != origin:
            raise CheckpointInvalid(
                f"the {copy.anchor} holds a checkpoint at size {checkpoint.size} for log "
                f"{checkpoint.origin!r}, not {origin!r}; give each log its own anchor"
            )
        try:
            checkpoint.verify(public_key_pem)
        except CheckpointInvalid as exc:
            raise CheckpointInvalid(f"{exc} (held by the {copy.anchor})") from None
        own.append(checkpoint)
    if not own:
        return AnchorMatch(copy.anchor, None, 0)
    own.sort(key=lambda c: c.size)
    size, latest = len(tree), own[-1]
    if latest.size > size:
        raise AuditVerificationError(
            f"the log has {size} entries but the {copy.anchor} holds its checkpoint at size "
            f"{latest.size}, root sha256:{latest.root.hex()}: "
            f"{_span(size, latest.size)} deleted (a rollback)",
            index=size,
        )
    lower = 0  # every anchored checkpoint up to here agrees with the log
    for checkpoint in own:
        root = tree.root(checkpoint.size)
        if root != checkpoint.root:
            raise CheckpointInvalid(
                f"the {copy.anchor} holds the checkpoint at size {checkpoint.size}, root "
                f"sha256:{checkpoint.root.hex()}, but entries 0 to {checkpoint.size - 1} hash "
                f"to sha256:{root.hex()}: an entry from {lower} to {checkpoint.size - 1} was "
                "rewritten and the log re-signed",
                index=lower,
            )
        lower = checkpoint.size
    return AnchorMatch(copy.anchor, latest.size, len(own))


def _span(start: int, stop: int) -> str:
    """``entry 3 was`` or ``entries 3 to 5 were``."""
    return f"entry {start} was" if stop - start == 1 else f"entries {start} to {stop - 1} were"


def _matches(tree: MerkleTree, checkpoints: Sequence[Checkpoint], size: int) -> bool:
    """Whether every checkpoint of ``size`` agrees with the tree's root at that size."""
    return all(c.root == tree.root(size) for c in checkpoints if c.size == size)
