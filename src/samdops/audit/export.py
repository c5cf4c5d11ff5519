"""Export of the audit log (AT-08): a human-readable report and JSONL with inclusion proofs.

An export directory holds:

- ``checkpoint.note``: the signed checkpoint the export is proven against;
- ``audit.jsonl``: one line per entry ``0..size-1``: ``{"seq", "entry", "leaf_hash",
  "inclusion_proof", "tree_size"}`` where ``entry`` is the stored entry JSON, byte for byte;
- ``public-key.pem``: the signer's public key (convenience only: verify with a key obtained
  independently, e.g. from the quality system, to make the check meaningful);
- ``report.txt``: the same entries for people to read.

:func:`entry_proof` gives the same proof for a single entry, with the checkpoint note inside, for
records (e.g. a model package) that need to carry the audit evidence for one event.

:func:`verify_export` checks it offline from these files alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samdops.atomic import atomic_write_bytes, atomic_write_text
from samdops.audit.checkpoint import Checkpoint
from samdops.audit.entry import GENESIS, AuditRecord, decode_entry
from samdops.audit.event import Action
from samdops.audit.log import AuditLog
from samdops.audit.merkle import verify_inclusion
from samdops.clock import utc_timestamp
from samdops.errors import AuditError, AuditVerificationError, CheckpointInvalid, VerificationError
from samdops.governance.text import escaped

CHECKPOINT_FILE = "checkpoint.note"
JSONL_FILE = "audit.jsonl"
KEY_FILE = "public-key.pem"
REPORT_FILE = "report.txt"


@dataclass(frozen=True)
class VerifiedExport:
    """A verified export: how many entries, under which checkpoint."""

    size: int
    checkpoint: Checkpoint


def entry_proof(log: AuditLog, seq: int, checkpoint: Checkpoint) -> dict[str, Any]:
    """A JSON-ready proof that entry ``seq`` is in ``checkpoint`` (one export line + the note).

    This is what a model package carries for each audit event it relies on; it verifies offline
    with :func:`verify_entry_proof`.
    """
    return {**_line(log, seq, checkpoint.size), "checkpoint": checkpoint.to_note()}


def verify_entry_proof(doc: Mapping[str, Any], public_key_pem: bytes) -> AuditRecord:
    """Verify a document from :func:`entry_proof` offline; return the proven record or raise."""
    # 1. The checkpoint must parse and carry a valid signature by the trusted key.
    note = doc.get("checkpoint")
    if not isinstance(note, str):
        raise AuditVerificationError("the entry proof has no checkpoint note")
    checkpoint = Checkpoint.from_note(note)
    checkpoint.verify(public_key_pem)
    # 2. The entry must parse, and its inclusion proof must lead to the signed root.
    index = doc.get("seq")
    if type(index) is not int:
        raise AuditVerificationError("the entry proof has no integer 'seq'")
    return _check_line(index, doc, checkpoint)


def export_log(log: AuditLog, out_dir: str | Path, public_key_pem: bytes) -> VerifiedExport:
    """Verify ``log`` with ``public_key_pem``, then export it up to its latest checkpoint.

    With a signer, the log is checkpointed first so that the export covers every entry.
    """
    if log.signer is not None and len(log):
        log.checkpoint()
    verified = log.verify(public_key_pem)
    checkpoint = verified.checkpoint
    if checkpoint is None or checkpoint.size == 0:
        raise AuditError("the audit log has no checkpoint covering any entry; nothing to export")
    out = Path(out_dir)
    records = list(log.entries(0, checkpoint.size))
    lines = [_line(log, r.seq, checkpoint.size) for r in records]
    text = "".join(
        json.dumps(x, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        for x in lines
    )
    atomic_write_text(out / JSONL_FILE, text)
    atomic_write_text(out / CHECKPOINT_FILE, checkpoint.to_note())
    atomic_write_bytes(out / KEY_FILE, public_key_pem)
    atomic_write_text(out / REPORT_FILE, render_report(records, checkpoint))
    return VerifiedExport(checkpoint.size, checkpoint)


def _line(log: AuditLog, seq: int, size: int) -> dict[str, Any]:
    stored = log.store.read(seq)
    if stored is None:
        raise AuditError(f"the audit log has no entry {seq}")
    body, leaf_line = stored.decode("utf-8").split("\n")[:2]
    return {
        "seq": seq,
        "entry": body,
        "leaf_hash": leaf_line,
        "tree_size": size,
        "inclusion_proof": ["sha256:" + h.hex() for h in log.prove_inclusion(seq, size)],
    }


def _check_line(index: int, line: Mapping[str, Any], checkpoint: Checkpoint) -> AuditRecord:
    """Parse one proof line for entry ``index`` and check its inclusion in ``checkpoint``."""
    try:
        stored = f"{line['entry']}\n{line['leaf_hash']}\n".encode()
        proof = [bytes.fromhex(h.removeprefix("sha256:")) for h in line["inclusion_proof"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AuditVerificationError(
            f"the proof line for entry {index} is malformed: {exc!r}", index=index
        ) from None
    record = decode_entry(index, stored)  # also checks the entry's own position
    if line.get("seq") != index or line.get("tree_size") != checkpoint.size:
        raise AuditVerificationError(
            f"the proof line for entry {index} has seq {line.get('seq')!r} and tree_size "
            f"{line.get('tree_size')!r}; expected {index} and {checkpoint.size}",
            index=index,
        )
    try:
        verify_inclusion(index, checkpoint.size, record.leaf_hash, proof, checkpoint.root)
    except VerificationError as exc:
        raise AuditVerificationError(
            f"entry {index} is not included in the checkpoint at size {checkpoint.size}: {exc}",
            index=index,
        ) from None
    return record


def render_report(records: list[AuditRecord], checkpoint: Checkpoint) -> str:
    """The human-readable audit report; every stored value is escaped, so that no name, reason
    or detail can forge a line or hide text with a control character."""
    out = [
        "samdops audit trail",
        f"log:         {checkpoint.origin}",
        f"entries:     {checkpoint.size}",
        f"root:        sha256:{checkpoint.root.hex()}",
        f"checkpoint:  {checkpoint.time} signed by {checkpoint.key_id}",
        f"exported:    {utc_timestamp()}",
        "verify:      samdops audit verify --export <this directory> --public-key <trusted pem>",
        "",
    ]
    for r in records:
        e = r.event
        target = escaped(str(e.target))
        out.append(f"#{r.seq}  {e.time}  {e.action.value.upper()}  {target}  -> {e.outcome}")
        out.append(f"    actor:  {escaped(e.actor.id)} (authenticated by {e.actor.auth.value})")
        out.append(f"    source: {e.source.kind.value} {escaped(e.source.ref)}")
        if e.reason is not None:
            out.append(f"    reason: {escaped(e.reason)}")
        out.append(f"    value:  {e.prev_hash or '-'} -> {e.new_hash or '-'}")
        details = e.detail_map()
        if e.action == Action.SIGN and "sig.name" in details:  # shown as signed (ES-01)
            signature = (
                f"{details['sig.name']} ({details.get('sig.signer')}), "
                f"{details.get('sig.signed_at')}, {details.get('meaning')}"
            )
            out.append(f"    signature: {escaped(signature)}")
        for key, value in details.items():
            out.append(f"    {escaped(key)}: {escaped(value)}")
        out.append(f"    event {e.id}, entry {r.digest}")
    return "\n".join(out) + "\n"


def verify_export(directory: str | Path, public_key_pem: bytes | None = None) -> VerifiedExport:
    """Verify an export offline; return or raise naming the first bad entry.

    ``public_key_pem`` defaults to the key inside the export, which only shows that the export is
    self-consistent; pass an independently obtained key to show who signed it.
    """
    folder = Path(directory)
    try:
        note = (folder / CHECKPOINT_FILE).read_text("utf-8")
        key = public_key_pem or (folder / KEY_FILE).read_bytes()
        lines = (folder / JSONL_FILE).read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditVerificationError(f"cannot read the export in {folder}: {exc}") from None
    # 1. The checkpoint must parse and carry a valid signature by the trusted key.
    checkpoint = Checkpoint.from_note(note)
    checkpoint.verify(key)
    if checkpoint.size == 0:
        raise CheckpointInvalid("the export's checkpoint covers no entries")
    prev = GENESIS
    for index, text in enumerate(lines):
        # 2. Each line must be an entry the checkpoint covers; it must parse, hash as stored,
        #    sit at its own position, and its inclusion proof must lead to the signed root.
        if index >= checkpoint.size:
            raise AuditVerificationError(
                f"the export has more entries than its checkpoint covers ({checkpoint.size}): "
                f"entry {index} was added",
                index=index,
            )
        try:
            line = json.loads(text)
        except ValueError as exc:
            raise AuditVerificationError(
                f"the proof line for entry {index} is not JSON: {exc}", index=index
            ) from None
        if not isinstance(line, dict):
            raise AuditVerificationError(f"the proof line for entry {index} is not an object")
        record = _check_line(index, line, checkpoint)
        # 3. The chain must hold.
        if record.prev != prev:
            raise AuditVerificationError(
                f"entry {index} does not match the chain: its prev_hash is {record.prev}, "
                f"entry {index - 1} hashes to {prev}",
                index=index,
            )
        prev = record.digest
    # 4. Every entry the checkpoint covers must be there.
    if len(lines) < checkpoint.size:
        raise AuditVerificationError(
            f"the export has {len(lines)} entries but its checkpoint covers {checkpoint.size}: "
            f"entries {len(lines)} to {checkpoint.size - 1} are missing (truncated)",
            index=len(lines),
        )
    return VerifiedExport(checkpoint.size, checkpoint)
