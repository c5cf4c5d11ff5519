"""The stored form of one log entry, and its parsing with index-precise errors.

An entry is two lines::

    {"event":{...},"prev":"sha256:<hex>","seq":41}     canonical JSON (the Merkle leaf data)
    sha256:<hex>                                       leaf hash of line 1: sha256(0x00 || line 1)

``seq`` is the entry's position, so a renamed or moved file is caught where it lands. ``prev`` is
the leaf hash of entry ``seq - 1`` (64 zeros for entry 0): the hash chain, which names the exact
entry where an insertion, reordering or rewrite starts. The second line repeats the entry's own
leaf hash, so a flipped byte is reported at the entry that holds it (not only at its successor);
it adds no security, since a forger can recompute it, but the chain and the signed root catch that.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from samdops.audit.event import AuditEvent
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
    leaf = hashlib.sha256(b"\x00" + body).digest()
    return body + b"\nsha256:" + leaf.hex().encode() + b"\n", leaf


def decode_entry(index: int, data: bytes) -> AuditRecord:
    """Parse the entry stored at position ``index``; raise naming ``index`` if it is bad.

    Checks, in order: the two-line framing, the recorded leaf hash, the JSON and event schema,
    and that the entry's own ``seq`` is ``index``. The chain link is checked by the caller.
    """

    def fail(why: str) -> AuditVerificationError:
        return AuditVerificationError(f"entry {index} {why}", index=index)

    # 1. Framing: a body line and a hash line.
    lines = data.split(b"\n")
    if len(lines) != 3 or lines[2] != b"" or not lines[1].startswith(b"sha256:"):
        raise fail("is not two lines (entry JSON, then its sha256 leaf hash); it was truncated")
    body = lines[0]
    # 2. The body must hash to the leaf hash the entry recorded.
    leaf = hashlib.sha256(b"\x00" + body).digest()
    recorded = lines[1].decode("ascii", "replace")
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
