"""Export of the audit log (AT-08): human-readable reports and JSONL with inclusion proofs.

An export directory holds:

- ``checkpoint.note``: the signed checkpoint the export is proven against;
- ``audit.jsonl``: one line per exported entry ``{"seq", "entry", "leaf_hash",
  "inclusion_proof", "tree_size"}`` where ``entry`` is the stored entry JSON, byte for byte;
- ``public-key.pem``: the signer's public key (convenience only: verify with a key obtained
  independently, e.g. from the quality system, to make the check meaningful);
- ``report.txt`` and ``report.html``: the same entries for people to read (:mod:`.report`), with
  a run's whole trace when the selection names a run;
- ``selection.json``, only when the export is a selection (``--kind``, ``--actor``, ``--target``,
  ``--since``, ``--until``, ``--run``): ``{"filter", "query_entry", "selected", "log_size"}``.

Who exported, and what, is itself an entry: with a ``reader``, :func:`export_log` appends a
``query`` event on ``query/audit/export`` that records the filter, the number of selected entries
and the digest of their sequence numbers, checkpoints the log, and exports against that
checkpoint. A whole-log export holds every entry the checkpoint covers (the query entry too) and
verifies as before: chain, positions, completeness. A selection holds the selected entries and,
last, the query entry, each with its inclusion proof; :func:`verify_export` checks each proof,
the chain between neighbours, that every entry matches the filter, and that the filter and the
set of entries are exactly those the (signed, proven) query entry recorded: an entry dropped
from or added to a selection, or an edited filter, fails.

:func:`entry_proof` gives the same proof for a single entry, with the checkpoint note inside, for
records (e.g. a model package) that need to carry the audit evidence for one event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samdops.atomic import atomic_write_bytes, atomic_write_text
from samdops.audit import layout
from samdops.audit.activity import query
from samdops.audit.checkpoint import Checkpoint
from samdops.audit.entry import GENESIS, AuditRecord, decode_entry, encode_entry
from samdops.audit.event import Action, Actor, EventDraft, Outcome, Source, SourceKind
from samdops.audit.log import AuditLog
from samdops.audit.merkle import verify_inclusion
from samdops.audit.report import render_html, render_text
from samdops.audit.selection import Selection
from samdops.clock import utc_timestamp
from samdops.digest import canonical_json, sha256_bytes
from samdops.errors import (
    AuditError,
    AuditVerificationError,
    CheckpointInvalid,
    ConfigError,
    VerificationError,
)

CHECKPOINT_FILE = "checkpoint.note"
JSONL_FILE = "audit.jsonl"
KEY_FILE = "public-key.pem"
REPORT_FILE = "report.txt"
HTML_FILE = "report.html"
SELECTION_FILE = "selection.json"
EXPORT_QUERY = "audit/export"  # what the reader's query event names (query/audit/export@...)
DEFAULT_SOURCE = Source(SourceKind.CLI, "samdops audit export")


def render_report(records: list[AuditRecord], checkpoint: Checkpoint) -> str:
    """The text report of ``records`` (kept for callers of the old name)."""
    return render_text(records, checkpoint, exported=utc_timestamp())


@dataclass(frozen=True)
class VerifiedExport:
    """A verified export: how many entries its checkpoint covers, and, for a selection, how many
    it holds, under which filter, recorded by which query entry."""

    size: int
    checkpoint: Checkpoint
    selected: int | None = None  # None: the whole log
    selection: Selection | None = None
    query_entry: int | None = None


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


def selection_digest(seqs: Sequence[int]) -> str:
    """The digest a query entry records for the sequence numbers it selected."""
    return sha256_bytes(canonical_json(list(seqs)))


def export_query(
    reader: Actor,
    selection: Selection,
    chosen: Sequence[int],
    log_size: int,
    *,
    source: Source = DEFAULT_SOURCE,
) -> EventDraft:
    """The ``query`` event that records an export: who, which filter, which entries."""
    return query(
        reader,
        EXPORT_QUERY,
        source=source,
        filters=selection.filters(),
        results=len(chosen),
        details={"selection": selection_digest(chosen), "log_size": str(log_size)},
    )


def export_log(
    log: AuditLog,
    out_dir: str | Path,
    public_key_pem: bytes,
    *,
    selection: Selection | None = None,
    reader: Actor | None = None,
    source: Source = DEFAULT_SOURCE,
) -> VerifiedExport:
    """Verify ``log`` with ``public_key_pem``, then export it (or ``selection`` of it).

    With a signer, the log is checkpointed first so that the export covers every entry. With a
    ``reader``, their query event is appended (and checkpointed) before anything is written; a
    selection needs one, since it is what proves the selection complete.
    """
    selection = selection or Selection()
    if not selection.everything and reader is None:
        raise AuditError("a selection of the audit log is exported only with its reader's query")
    if log.signer is not None and len(log):
        log.checkpoint()
    verified = log.verify(public_key_pem)
    checkpoint = verified.checkpoint
    asked: AuditRecord | None = None
    chosen: list[AuditRecord] = []
    if reader is not None:
        if log.signer is None:
            raise AuditError("recording who exported the audit log needs its signing key")
        size = checkpoint.size if checkpoint is not None else 0
        chosen = [r for r in log.entries(0, size) if selection.matches(r.event)]
        draft = export_query(reader, selection, [r.seq for r in chosen], size, source=source)
        with log.covered():
            asked = log.append(draft)
        checkpoint = log.checkpoint()
    if checkpoint is None or checkpoint.size == 0:
        raise AuditError("the audit log has no checkpoint covering any entry; nothing to export")
    out = Path(out_dir)
    if selection.everything:
        records = list(log.entries(0, checkpoint.size))
        proven = records
    else:
        assert asked is not None  # a selection has a reader
        records, proven = chosen, [*chosen, asked]
    lines = [_line(log, r.seq, checkpoint.size) for r in proven]
    text = "".join(
        json.dumps(x, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        for x in lines
    )
    exported = utc_timestamp()
    atomic_write_text(out / JSONL_FILE, text)
    atomic_write_text(out / CHECKPOINT_FILE, checkpoint.to_note())
    atomic_write_bytes(out / KEY_FILE, public_key_pem)
    if not selection.everything and asked is not None:
        header = {
            "filter": selection.filters(),
            "query_entry": asked.seq,
            "selected": len(chosen),
            "log_size": int(asked.event.detail_map()["log_size"]),
        }
        atomic_write_text(out / SELECTION_FILE, json.dumps(header, indent=2, sort_keys=True) + "\n")
    else:
        (out / SELECTION_FILE).unlink(missing_ok=True)  # an older selection in the same folder
    for name, render in ((REPORT_FILE, render_text), (HTML_FILE, render_html)):
        page = render(records, checkpoint, exported=exported, selection=selection, query=asked)
        atomic_write_text(out / name, page)
    selected = None if selection.everything else len(chosen)
    query_entry = None if asked is None else asked.seq
    return VerifiedExport(checkpoint.size, checkpoint, selected, selection, query_entry)


def _line(log: AuditLog, seq: int, size: int) -> dict[str, Any]:
    record = log.record(seq)
    data, leaf = encode_entry(seq, record.prev, record.event)
    body = data.split(b"\n", 1)[0]
    if leaf != record.leaf_hash:  # stored before a schema change: take the stored bytes
        stored = layout.read_body(log.store, seq)
        if stored is None:
            raise AuditError(f"the audit log has no entry {seq}")
        body = stored
    return {
        "seq": seq,
        "entry": body.decode("utf-8"),
        "leaf_hash": record.digest,
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


def verify_export(directory: str | Path, public_key_pem: bytes | None = None) -> VerifiedExport:
    """Verify an export (the whole log, or a selection) offline; return or raise naming the
    first bad entry.

    ``public_key_pem`` defaults to the key inside the export, which only shows that the export is
    self-consistent; pass an independently obtained key to show who signed it.
    """
    folder = Path(directory)
    try:
        note = (folder / CHECKPOINT_FILE).read_text("utf-8")
        key = public_key_pem or (folder / KEY_FILE).read_bytes()
        lines = (folder / JSONL_FILE).read_text("utf-8").splitlines()
        header = (
            (folder / SELECTION_FILE).read_text("utf-8")
            if (folder / SELECTION_FILE).exists()
            else None
        )
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditVerificationError(f"cannot read the export in {folder}: {exc}") from None
    # 1. The checkpoint must parse and carry a valid signature by the trusted key.
    checkpoint = Checkpoint.from_note(note)
    checkpoint.verify(key)
    if checkpoint.size == 0:
        raise CheckpointInvalid("the export's checkpoint covers no entries")
    if header is not None:
        return _verify_selection(lines, checkpoint, header)
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
        record = _check_line(index, _parse_line(index, text), checkpoint)
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


def _parse_line(index: int, text: str) -> dict[str, Any]:
    try:
        line = json.loads(text)
    except ValueError as exc:
        raise AuditVerificationError(
            f"the proof line for entry {index} is not JSON: {exc}", index=index
        ) from None
    if not isinstance(line, dict):
        raise AuditVerificationError(f"the proof line for entry {index} is not an object")
    return line


def _read_header(text: str) -> tuple[Selection, int]:
    """The filter and query entry of ``selection.json``."""
    try:
        header = json.loads(text)
        filters, query_entry = header["filter"], header["query_entry"]
        if not isinstance(filters, dict) or not all(isinstance(v, str) for v in filters.values()):
            raise TypeError("'filter' must map names to strings")
        if type(query_entry) is not int:
            raise TypeError("'query_entry' must be an integer")
        return Selection.from_filters(filters), query_entry
    except (ValueError, KeyError, TypeError, ConfigError) as exc:
        raise AuditVerificationError(
            f"{SELECTION_FILE} of the export is malformed: {exc}"
        ) from None


def _describe(filters: Mapping[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in filters.items()) or "all entries"


def _verify_selection(lines: list[str], checkpoint: Checkpoint, header: str) -> VerifiedExport:
    """Check a selection: each entry's proof, the chain between neighbours, the filter, and
    that the entries are exactly the ones the proven query entry recorded."""
    selection, query_entry = _read_header(header)
    records: list[AuditRecord] = []
    for number, text in enumerate(lines, 1):
        seq = _parse_line(number - 1, text).get("seq")
        last = records[-1].seq if records else -1
        if type(seq) is not int or not last < seq < checkpoint.size:
            raise AuditVerificationError(
                f"line {number} of {JSONL_FILE} holds entry {seq!r}, after entry {last}: a "
                f"selection lists entries in increasing order, below {checkpoint.size}"
            )
        record = _check_line(seq, json.loads(text), checkpoint)
        before = GENESIS if seq == 0 else (records[-1].digest if last == seq - 1 else None)
        if before is not None and record.prev != before:
            raise AuditVerificationError(
                f"entry {seq} does not match the chain: its prev_hash is {record.prev}, "
                f"entry {seq - 1} hashes to {before}",
                index=seq,
            )
        records.append(record)
    if not records or records[-1].seq != query_entry:
        raise AuditVerificationError(
            f"the export's query entry {query_entry}, which records who exported it and what "
            f"they selected, is not the last line of {JSONL_FILE}",
            index=query_entry,
        )
    asked, chosen = records[-1], records[:-1]
    event, details = asked.event, asked.event.detail_map()
    if (
        event.action != Action.QUERY
        or event.target.id != f"query/{EXPORT_QUERY}"
        or event.outcome != Outcome.SUCCESS
    ):
        raise AuditVerificationError(
            f"entry {query_entry} is not the record of an audit export", index=query_entry
        )
    recorded = {k.removeprefix("filter."): v for k, v in details.items() if k.startswith("filter.")}
    if recorded != selection.filters():
        raise AuditVerificationError(
            f"the export's filter ({selection.describe()}) is not the one its query entry "
            f"{query_entry} recorded ({_describe(recorded)})",
            index=query_entry,
        )
    digest = selection_digest([r.seq for r in chosen])
    if details.get("selection") != digest or details.get("results") != str(len(chosen)):
        raise AuditVerificationError(
            f"the export's {len(chosen)} selected entries are not the "
            f"{details.get('results')} its query entry {query_entry} recorded: entries were "
            "removed from, added to or swapped in the selection",
            index=query_entry,
        )
    for record in chosen:
        if not selection.matches(record.event):
            raise AuditVerificationError(
                f"entry {record.seq} does not match the export's filter ({selection.describe()})",
                index=record.seq,
            )
    return VerifiedExport(checkpoint.size, checkpoint, len(chosen), selection, query_entry)
