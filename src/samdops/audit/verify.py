"""Offline verification of a whole audit log against its signed checkpoints.

:func:`verify_log` returns a :class:`VerifiedLog` or raises
:class:`~samdops.errors.AuditVerificationError` (``index`` = first bad entry) or
:class:`~samdops.errors.CheckpointInvalid`. It reads only the store and the trusted public key.

Steps (each either passes or raises, naming the first entry that fails):

1. read every entry in order (a gap is named) and check its framing, JSON, event schema and
   recorded position;
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

from collections.abc import Sequence
from dataclasses import dataclass

from samdops.audit.checkpoint import Checkpoint
from samdops.audit.entry import GENESIS, decode_entry
from samdops.audit.merkle import MerkleTree, verify_consistency
from samdops.audit.signer import key_id_for
from samdops.audit.store import EntryStore
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


def build_tree(store: EntryStore) -> MerkleTree:
    """Steps 1-3: read every entry in order, check it and its chain link; return the tree."""
    tree = MerkleTree()
    prev = GENESIS
    for index, seq in enumerate(store.sequence_numbers()):
        if seq != index:
            raise AuditVerificationError(
                f"entry {index} is missing: the log jumps from entry {index - 1} to entry {seq}",
                index=index,
            )
        data = store.read(seq)
        if data is None:
            raise AuditVerificationError(f"entry {index} disappeared while reading", index=index)
        # 1 + 2. Parse, validate the schema and position, recompute the leaf hash.
        record = decode_entry(index, data)
        # 3. The entry must commit to the hash of its predecessor.
        if record.prev != prev:
            before = f"entry {index - 1} hashes to {prev}" if index else f"entry 0 must be {prev}"
            raise AuditVerificationError(
                f"entry {index} does not match the chain: its prev_hash is {record.prev}, {before}",
                index=index,
            )
        tree.append(record.leaf_hash)
        prev = record.digest
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
