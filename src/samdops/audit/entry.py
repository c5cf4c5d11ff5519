"""The stored form of one log entry, and its parsing with index-precise errors.

An entry is two lines::

    {"event":{...},"prev":"sha256:<hex>","seq":41}     canonical JSON (the Merkle leaf data)
    sha256:<hex>                                       leaf hash of line 1: sha256(0x00 || line 1)

``seq`` is the entry's position, so a renamed or moved file is caught where it lands. ``prev`` is
the leaf hash of entry ``seq - 1`` (64 zeros for entry 0): the hash chain, which names the exact
entry where an insertion, reordering or rewrite starts. The second line repeats the entry's own
leaf hash, so a flipped byte is reported at the entry that holds it (not only at its successor);
it adds no security, since a forger can recompute it, but the chain and the signed root catch that.

A *batch* is one or more consecutive entries, concatenated, committed as one object (see
:mod:`.layout`); a full bundle of the tlog-tiles layout holds line 1 of each entry and its level-0
tile the leaf hashes, which :func:`decode_body` checks the same way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from samdops.audit.event import AuditEvent
from samdops.audit.tiles import MAX_ENTRY_BYTES
from samdops.digest import canonical_json
from samdops.errors import AuditError, AuditVerificationError

GENESIS = "sha256:" + "0" * 64


@dataclass(frozen=True)
class AuditRecord:
    """One durable entry of the log: its position, chain link, event and leaf hash."""

    seq: int
    prev: str
    event: AuditEvent
    leaf_hash: bytes

    @property
    def digest(self) -> str:
        """The leaf hash as ``sha256:<hex>`` (what entry ``seq + 1`` records as ``prev``)."""
        return "sha256:" + self.leaf_hash.hex()


def encode_entry(seq: int, prev: str, event: AuditEvent) -> tuple[bytes, bytes]:
    """The stored bytes of an entry and its leaf hash."""
    body = canonical_json({"seq": seq, "prev": prev, "event": event.to_dict()})
    if len(body) > MAX_ENTRY_BYTES:
        raise AuditError(
            f"the audit event is {len(body)} bytes stored; at most {MAX_ENTRY_BYTES} fit an "
            "entry: shorten its details"
        )
    leaf = hashlib.sha256(b"\x00" + body).digest()
    return body + b"\nsha256:" + leaf.hex().encode() + b"\n", leaf


def decode_entry(index: int, data: bytes) -> AuditRecord:
    """Parse the entry stored at position ``index``; raise naming ``index`` if it is bad.

    Checks, in order: the two-line framing, the recorded leaf hash, the JSON and event schema,
    and that the entry's own ``seq`` is ``index``. The chain link is checked by the caller.
    """

    # 1. Framing: a body line and a hash line.
    lines = data.split(b"\n")
    if len(lines) != 3 or lines[2] != b"" or not lines[1].startswith(b"sha256:"):
        raise AuditVerificationError(
            f"entry {index} is not two lines (entry JSON, then its sha256 leaf hash); "
            "it was truncated",
            index=index,
        )
    return decode_body(index, lines[0], lines[1].decode("ascii", "replace"))


def split_batch(start: int, data: bytes) -> list[bytes]:
    """The entries of the batch that begins with entry ``start``, each as stored (two lines)."""
    lines = data.split(b"\n")
    if lines[-1] != b"" or len(lines) % 2 != 1 or len(lines) < 3:
        index = start + max(len(lines) - 1, 0) // 2
        raise AuditVerificationError(
            f"entry {index} is not two lines (entry JSON, then its sha256 leaf hash); "
            "it was truncated",
            index=index,
        )
    return [lines[i] + b"\n" + lines[i + 1] + b"\n" for i in range(0, len(lines) - 1, 2)]


def decode_body(index: int, body: bytes, recorded: str) -> AuditRecord:
    """Check and parse entry ``index`` from its body (line 1) and the leaf hash recorded for it
    (``sha256:<hex>``: line 2 of a batch entry, or its hash in a level-0 tile)."""

    def fail(why: str) -> AuditVerificationError:
        return AuditVerificationError(f"entry {index} {why}", index=index)

    # 2. The body must hash to the leaf hash the entry recorded.
    leaf = hashlib.sha256(b"\x00" + body).digest()
    if recorded != "sha256:" + leaf.hex():
        raise fail(
            f"was altered: its content hashes to sha256:{leaf.hex()}, it recorded {recorded}"
        )
    # 3. The body must be a valid entry with a valid event.
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise fail(f"is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != {"seq", "prev", "event"}:
        raise fail("must be an object with exactly 'seq', 'prev' and 'event'")
    seq, prev = doc["seq"], doc["prev"]
    if not isinstance(prev, str) or len(prev) != 71 or not prev.startswith("sha256:"):
        raise fail(f"has a malformed prev hash {prev!r}")
    try:
        event = AuditEvent.from_dict(doc["event"])
    except AuditError as exc:
        raise fail(f"breaks the event schema: {exc}") from None
    # 4. The entry must be where it says it is.
    if type(seq) is not int or seq != index:
        raise fail(f"records sequence number {seq!r}: entries were inserted, removed or moved")
    return AuditRecord(seq, prev, event, leaf)
