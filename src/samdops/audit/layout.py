"""Where each entry of the log is stored: committed batches, then full tlog-tiles bundles.

Writers commit entries in *batches*: object ``entries/<start>.entry`` holds entries ``start`` to
``start + k - 1`` (one to 256 of them, concatenated), created with an atomic create-if-absent. Of
writers racing for the same ``start`` exactly one succeeds, so the log never forks, and one
commit makes any number of entries durable at the cost of one write. A batch never crosses a
multiple of 256, so every multiple of 256 is a batch start.

When entry ``256N + 255`` is committed, the writer also writes the level-0 tile ``N`` (the leaf
hashes), the entry bundle ``N`` (:mod:`.tiles`), and each higher tile that became full. Those are
derived from the batches and deterministic, so any writer may write (or re-write, after a crash)
a missing one; an existing one must match byte for byte. Readers take 256 entries from a bundle
whose level-0 tile exists, and the batches elsewhere, so a log of a million entries is read in
about 4,000 objects instead of a million. A bundle's entries are checked against the hashes of
its tile exactly as a batch entry is against its own second line, so a flipped byte is still
named at the entry that holds it.

Logs written before batches existed (one entry per ``entries/`` object) are valid batch logs.
"""

from __future__ import annotations

from collections.abc import Container, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from samdops.audit.entry import AuditRecord, decode_body, decode_entry, split_batch
from samdops.audit.merkle import MerkleTree
from samdops.audit.store import EntryStore
from samdops.audit.tiles import (
    HEIGHT,
    WIDTH,
    bundle_key,
    decode_bundle,
    decode_tile,
    encode_bundle,
    encode_tile,
    full_tiles,
    tile_key,
)
from samdops.errors import AuditError, AuditVerificationError


class Span(Protocol):
    """Where a chunk of entries was read from."""

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def bundled(self) -> bool: ...


@dataclass(frozen=True)
class Chunk:
    """Consecutive entries read from one object: a batch, or a full bundle."""

    start: int
    records: tuple[AuditRecord, ...]
    bundled: bool  # read from a tlog-tiles bundle (else from a committed batch)
    bodies: tuple[bytes, ...] = ()  # a batch's entry bodies (what its bundle will hold)

    @property
    def end(self) -> int:
        return self.start + len(self.records)


def read_chunk(
    store: EntryStore, start: int, listed: Container[int] | None = None, *, current: bool = False
) -> Chunk | None:
    """The entries stored from ``start`` (a batch start), or ``None`` at the end of the log.

    With ``listed`` (the batch starts a listing shows), a batch that is not listed ends the log:
    on a versioned bucket a deleted object can still be read, but it is not part of the log.
    ``current``: read a batch's current version (a writer catching up), not the locked original
    (what verification reads, and where it names a key written twice).
    """
    if start % WIDTH == 0:
        bundled = _read_bundle(store, start // WIDTH)
        if bundled is not None:
            return bundled
    if listed is not None and start not in listed:
        return None
    data = store.read_current(start) if current else store.read(start)
    if data is None:
        return None
    entries = split_batch(start, data)
    boundary = (start // WIDTH + 1) * WIDTH
    if start + len(entries) > boundary:
        raise AuditVerificationError(
            f"entry {boundary}: the batch that begins with entry {start} holds {len(entries)} "
            f"entries, across the bundle boundary at {boundary}; samdops never writes that",
            index=boundary,
        )
    records = tuple(decode_entry(start + i, e) for i, e in enumerate(entries))
    bodies = tuple(e.split(b"\n", 1)[0] for e in entries)
    return Chunk(start, records, bundled=False, bodies=bodies)


def read_chunks(
    store: EntryStore,
    start: int = 0,
    listed: Container[int] | None = None,
    *,
    current: bool = False,
) -> Iterator[Chunk]:
    """Every chunk from ``start`` (a batch start) to the end of the log, in order."""
    position = start
    while (chunk := read_chunk(store, position, listed, current=current)) is not None:
        yield chunk
        position = chunk.end


def check_no_gap(starts: Sequence[int], chunks: Sequence[Span], size: int) -> None:
    """Raise if a batch listed (``starts``, listed *before* the chunks were read) begins at or
    beyond ``size`` (the entries between were deleted), or begins inside a batch that was read
    (an object slipped in)."""
    beyond = [s for s in starts if s >= size]
    if beyond:
        raise AuditVerificationError(
            f"entry {size} is missing: the log jumps from entry {size - 1} to entry {beyond[0]}",
            index=size,
        )
    batches = [(c.start, c.end) for c in chunks if not c.bundled]
    begins = {a for a, _ in batches}
    for s in starts:
        if s not in begins and any(a < s < b for a, b in batches):
            raise AuditVerificationError(
                f"entry {s}: an object claims to begin at entry {s}, inside the batch that "
                "holds it; it was slipped in",
                index=s,
            )


def read_entry(store: EntryStore, seq: int) -> AuditRecord | None:
    """Entry ``seq`` as stored now (from its bundle, else from the batch that holds it)."""
    found = _holding(store, seq)
    return None if found is None else found.records[seq - found.start]


def read_body(store: EntryStore, seq: int) -> bytes | None:
    """The stored leaf data (line 1) of entry ``seq``, checked like every entry read."""
    found = _holding(store, seq)
    if found is None:
        return None
    if found.bodies:
        return found.bodies[seq - found.start]
    data = store.read_tile(bundle_key(seq // WIDTH)) or b""
    return decode_bundle(seq // WIDTH, data)[seq % WIDTH]


def _holding(store: EntryStore, seq: int) -> Chunk | None:
    """The chunk that holds entry ``seq``, or ``None``."""
    bundled = _read_bundle(store, seq // WIDTH)
    if bundled is not None:
        return bundled
    starts = [s for s in store.sequence_numbers() if s <= seq]
    if not starts:
        return None
    chunk = read_chunk(store, starts[-1])
    if chunk is None or not chunk.start <= seq < chunk.end:
        return None
    return chunk


def integrate(
    store: EntryStore,
    tree: MerkleTree,
    bodies: Mapping[int, bytes],
    done: int,
    present: Container[int] = (),
) -> int:
    """Write the tiles and bundles that are full in ``tree`` and not yet written past entry
    ``done`` (a multiple of 256), from the stored ``bodies`` of the entries after ``done``;
    return the new ``done``. ``present``: bundles already read from the store (another writer
    wrote them; this one holds no bodies for them). Each object is written once; one that
    exists must hold the same bytes, or the log was tampered with."""
    size = len(tree)
    for level, index in full_tiles(done, size):
        if level == 0 and index in present:
            continue
        first = index * WIDTH
        hashes = [tree.node(HEIGHT * level, first + i) for i in range(WIDTH)]
        _put(store, tile_key(level, index), encode_tile(hashes))
        if level == 0:
            bundle = [bodies[seq] for seq in range(first, first + WIDTH)]
            _put(store, bundle_key(index), encode_bundle(bundle))
    return size - size % WIDTH


def check_tiles(store: EntryStore, tree: MerkleTree) -> int:
    """Compare every stored full tile of levels 1 and up with the hashes of the entries (level 0
    is checked entry by entry when a bundle is read); return how many were compared."""
    checked = 0
    for level, index in full_tiles(0, len(tree)):
        if level == 0:
            continue
        data = store.read_tile(tile_key(level, index))
        if data is None:
            continue  # not integrated yet: nothing to compare
        stored = decode_tile(level, index, data)
        for i, got in enumerate(stored):
            if got != tree.node(HEIGHT * level, index * WIDTH + i):
                first = (index * WIDTH + i) << (HEIGHT * level)
                raise AuditVerificationError(
                    f"entry {first}: tile {level}/{index} holds a hash that entries {first} to "
                    f"{first + (1 << HEIGHT * level) - 1} do not hash to; the tile was altered",
                    index=first,
                )
        checked += 1
    return checked


def _read_bundle(store: EntryStore, index: int) -> Chunk | None:
    tile = store.read_tile(tile_key(0, index))
    if tile is None:
        return None
    data = store.read_tile(bundle_key(index))
    if data is None:
        return None  # the writer stopped between the tile and the bundle: read the batches
    hashes = decode_tile(0, index, tile)
    bodies = decode_bundle(index, data)
    start = index * WIDTH
    records = tuple(
        decode_body(start + i, body, "sha256:" + h.hex())
        for i, (body, h) in enumerate(zip(bodies, hashes, strict=True))
    )
    return Chunk(start, records, bundled=True)


def _put(store: EntryStore, key: str, data: bytes) -> None:
    if store.put_tile(key, data):
        return
    if store.read_tile(key) != data:
        raise AuditError(
            f"the audit log is damaged: {key} differs from what its entries give; refusing to "
            "use it (run `samdops audit verify`)"
        )
