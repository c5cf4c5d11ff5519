"""The C2SP tlog-tiles layout of a log: entry bundles and hash tiles of 256.

Paths (C2SP ``tlog-tiles``): the tile at level ``L``, index ``N`` is ``tile/<L>/<N>`` and the entry
bundle ``N`` is ``tile/entries/<N>``, where ``N`` is written in groups of three digits, every group
but the last prefixed with ``x`` (``1234067`` is ``x001/x234/067``). Only full tiles and bundles
are stored; the entries after the last full bundle are read from the batches they were committed
in (:mod:`samdops.audit.layout`).

- A level-0 tile holds the 256 leaf hashes (32 bytes each) of entries ``256N .. 256N+255``; a
  level-``L`` tile holds the 256 hashes of the subtrees of height ``8L`` at indices
  ``256N .. 256N+255`` (RFC 6962 hashing, :mod:`samdops.audit.merkle`), so a proof for any entry
  is assembled from at most a few tiles.
- An entry bundle holds the 256 entries' leaf data (the canonical JSON of :mod:`.entry`), each
  prefixed with its length as a big-endian uint16; an entry is therefore at most 65,535 bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from samdops.audit.merkle import HASH_SIZE
from samdops.errors import AuditVerificationError

WIDTH = 256
HEIGHT = 8  # log2(WIDTH): the tree levels one tile spans
MAX_ENTRY_BYTES = 0xFFFF


def index_path(index: int) -> str:
    """``1234067`` -> ``x001/x234/067`` (C2SP tlog-tiles)."""
    if index < 0:
        raise ValueError(f"a tile index is not negative; got {index}")
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def tile_key(level: int, index: int) -> str:
    """``tile/<level>/<index path>``."""
    return f"tile/{level}/{index_path(index)}"


def bundle_key(index: int) -> str:
    """``tile/entries/<index path>``."""
    return f"tile/entries/{index_path(index)}"


def encode_bundle(bodies: Sequence[bytes]) -> bytes:
    """The entry bundle of ``bodies`` (each length-prefixed, big-endian uint16)."""
    out = bytearray()
    for body in bodies:
        if len(body) > MAX_ENTRY_BYTES:
            raise ValueError(f"an entry has {len(body)} bytes; a bundle holds at most 65535")
        out += len(body).to_bytes(2, "big") + body
    return bytes(out)


def decode_bundle(index: int, data: bytes) -> list[bytes]:
    """The 256 entry bodies of full bundle ``index``; raise naming the entry where it breaks."""
    bodies: list[bytes] = []
    at = 0
    while at < len(data):
        seq = index * WIDTH + len(bodies)
        if at + 2 > len(data):
            raise _bad(seq, f"bundle {index} ends inside the length of entry {seq}")
        size = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + size > len(data):
            raise _bad(seq, f"bundle {index} ends inside entry {seq}: it was truncated")
        bodies.append(data[at + 2 : at + 2 + size])
        at += 2 + size
    if len(bodies) != WIDTH:
        seq = index * WIDTH + min(len(bodies), WIDTH - 1)
        raise _bad(seq, f"bundle {index} holds {len(bodies)} entries, not {WIDTH}")
    return bodies


def encode_tile(hashes: Sequence[bytes]) -> bytes:
    """A full tile: 256 hashes, concatenated."""
    if len(hashes) != WIDTH or any(len(h) != HASH_SIZE for h in hashes):
        raise ValueError(f"a full tile holds {WIDTH} hashes of {HASH_SIZE} bytes")
    return b"".join(hashes)


def decode_tile(level: int, index: int, data: bytes) -> list[bytes]:
    """The 256 hashes of a full tile; raise if it is not 256 x 32 bytes."""
    if len(data) != WIDTH * HASH_SIZE:
        first = index * WIDTH << (HEIGHT * level)
        raise _bad(first, f"tile {level}/{index} has {len(data)} bytes, not {WIDTH * HASH_SIZE}")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def leaves_per_tile(level: int) -> int:
    """How many entries one full tile at ``level`` covers."""
    return WIDTH << (HEIGHT * level)


def full_tiles(old_size: int, new_size: int) -> Iterator[tuple[int, int]]:
    """``(level, index)`` of every tile that is full at ``new_size`` but not at ``old_size``."""
    level = 0
    while (span := leaves_per_tile(level)) <= new_size:
        for index in range(old_size // span, new_size // span):
            yield level, index
        level += 1


def _bad(seq: int, why: str) -> AuditVerificationError:
    return AuditVerificationError(f"entry {seq}: {why}", index=seq)
