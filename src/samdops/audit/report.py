"""The human-readable reports of an export: ``report.txt`` and ``report.html``.

Both show the same header (the checkpoint; the selection, so a reader knows whether it is the
whole log; the query entry that recorded who exported it), with ``--run`` the run's trace
(:mod:`samdops.audit.trace`), then every exported entry. Every stored value is escaped: in text,
control and format characters are written as escapes, so no name, reason or detail can forge a
line or hide text; in HTML, additionally every character HTML gives meaning to, and the page's
Content-Security-Policy forbids scripts and every fetch, should anything slip through.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from samdops.audit.checkpoint import Checkpoint
from samdops.audit.entry import AuditRecord
from samdops.audit.event import Action, AuditEvent
from samdops.audit.selection import Selection
from samdops.audit.trace import RunTrace, StepTrace, run_trace
from samdops.governance.text import escaped

_FIXED = frozenset(("actor", "source", "reason", "value"))  # aligned in text, as always
_VERIFY = "samdops audit verify --export <this directory> --public-key <trusted pem>"
_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}"
    "td,th{border:1px solid #bbb;padding:.2em .5em;text-align:left;vertical-align:top}"
    "code{font-size:.9em;word-break:break-all}.failure,.denied{color:#a00;font-weight:bold}"
)


def _h(value: object) -> str:
    """``value`` escaped for HTML text and attribute values."""
    return html.escape(escaped(str(value)), quote=True)


def _header_lines(
    checkpoint: Checkpoint, selection: Selection, query: AuditRecord | None, exported: str
) -> list[tuple[str, str]]:
    rows = [
        ("log", escaped(checkpoint.origin)),
        ("entries", str(checkpoint.size)),
        ("root", f"sha256:{checkpoint.root.hex()}"),
        ("checkpoint", f"{checkpoint.time} signed by {checkpoint.key_id}"),
        ("exported", exported),
        (
            "selection",
            "all entries"
            if selection.everything
            else f"{escaped(selection.describe())} (a selection, not the whole log)",
        ),
    ]
    if query is not None:
        e = query.event
        rows.append(
            ("exported by", f"{escaped(e.actor.id)} ({e.actor.auth.value}), entry {query.seq}")
        )
    rows.append(("verify", _VERIFY))
    return rows


def _pairs(pairs: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{k}={v}" for k, v in pairs) or "-"


def _step_text(s: StepTrace) -> list[str]:
    error = f" ({s.error_class})" if s.error_class else ""
    return [
        f"  step {escaped(s.step)}: {s.outcome}{escaped(error)}",
        f"    start {s.started or '-'}  end {s.ended or '-'}  entries "
        + ", ".join(str(x) for x in s.entries),
        f"    image:   {escaped(s.image)}",
        f"    inputs:  {escaped(_pairs(s.inputs))}",
        f"    outputs: {escaped(_pairs(s.outputs))}",
    ]


def trace_text(trace: RunTrace) -> list[str]:
    """The run trace as report lines."""
    out = [f"run trace: {escaped(trace.run)}"]
    if trace.empty:
        return [*out, "  (no entry of this run in the export)", ""]
    out.append(f"steps ({len(trace.steps)}):")
    for step in trace.steps:
        out += _step_text(step)
    out.append(f"data reads ({len(trace.data_reads)}):")
    for r in trace.data_reads:
        out.append(
            f"  #{r.seq} {r.time} {escaped(r.actor)} read {escaped(r.dataset)} {escaped(r.digest)} "
            f"rows {escaped(r.rows)} purpose {escaped(r.purpose)} -> {r.outcome}"
        )
    out.append(f"secret reads ({len(trace.secret_reads)}):")
    for s in trace.secret_reads:
        out.append(
            f"  #{s.seq} {s.time} {escaped(s.component)} read {escaped(s.path)} "
            f"vault request {escaped(s.vault_request_id)} -> {s.outcome}"
        )
    return [*out, ""]


def _event_lines(r: AuditRecord) -> list[tuple[str, str]]:
    """The labelled values of one entry, escaped for text."""
    e = r.event
    rows = [
        ("actor", f"{escaped(e.actor.id)} (authenticated by {e.actor.auth.value})"),
        ("source", f"{e.source.kind.value} {escaped(e.source.ref)}"),
    ]
    if e.reason is not None:
        rows.append(("reason", escaped(e.reason)))
    rows.append(("value", f"{e.prev_hash or '-'} -> {e.new_hash or '-'}"))
    details = e.detail_map()
    if e.action == Action.SIGN and "sig.name" in details:  # shown as signed (ES-01)
        signature = (
            f"{details['sig.name']} ({details.get('sig.signer')}), "
            f"{details.get('sig.signed_at')}, {details.get('meaning')}"
        )
        rows.append(("signature", escaped(signature)))
    rows += [(escaped(k), escaped(v)) for k, v in details.items()]
    return rows


def _title(e: AuditEvent) -> str:
    return f"{e.action.value.upper()}  {escaped(str(e.target))}  -> {e.outcome}"


def render_text(
    records: Sequence[AuditRecord],
    checkpoint: Checkpoint,
    *,
    exported: str,
    selection: Selection | None = None,
    query: AuditRecord | None = None,
) -> str:
    """``report.txt``."""
    selection = selection or Selection()
    out = ["samdops audit trail"]
    out += [
        f"{label + ':':<12} {value}"
        for label, value in _header_lines(checkpoint, selection, query, exported)
    ]
    out.append("")
    if selection.run is not None:
        out += trace_text(run_trace(records, selection.run))
    for r in records:
        e = r.event
        out.append(f"#{r.seq}  {e.time}  {e.kind}  {_title(e)}")
        out += [
            f"    {label + ':':<{7 if label in _FIXED else 0}} {value}"
            for label, value in _event_lines(r)
        ]
        out.append(f"    event {e.id}, entry {r.digest}")
    return "\n".join(out) + "\n"


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An HTML table; every cell is escaped here."""
    cells = "".join(f"<th>{_h(x)}</th>" for x in head)
    body = "".join("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def _trace_html(trace: RunTrace) -> str:
    out = [f"<h2>Run trace: <code>{_h(trace.run)}</code></h2>"]
    if trace.empty:
        return out[0] + "<p>No entry of this run is in the export.</p>"
    out.append(f"<h3>Steps ({len(trace.steps)})</h3>")
    out.append(
        _table(
            ("step", "start", "end", "outcome", "error class", "image", "inputs", "outputs"),
            [
                (
                    s.step,
                    s.started or "-",
                    s.ended or "-",
                    s.outcome,
                    s.error_class or "-",
                    s.image,
                    _pairs(s.inputs),
                    _pairs(s.outputs),
                )
                for s in trace.steps
            ],
        )
    )
    out.append(f"<h3>Data reads ({len(trace.data_reads)})</h3>")
    out.append(
        _table(
            ("entry", "time", "actor", "dataset", "digest", "rows", "purpose", "outcome"),
            [
                (r.seq, r.time, r.actor, r.dataset, r.digest, r.rows, r.purpose, r.outcome)
                for r in trace.data_reads
            ],
        )
    )
    out.append(f"<h3>Secret reads ({len(trace.secret_reads)})</h3>")
    out.append(
        _table(
            ("entry", "time", "component", "path", "Vault request id", "outcome"),
            [
                (s.seq, s.time, s.component, s.path, s.vault_request_id, s.outcome)
                for s in trace.secret_reads
            ],
        )
    )
    return "".join(out)


def render_html(
    records: Sequence[AuditRecord],
    checkpoint: Checkpoint,
    *,
    exported: str,
    selection: Selection | None = None,
    query: AuditRecord | None = None,
) -> str:
    """``report.html``: one self-contained page, no script, nothing fetched."""
    selection = selection or Selection()
    header = _header_lines(checkpoint, selection, query, exported)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',  # a constant
        f"<title>samdops audit trail: {_h(selection.describe())}</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>samdops audit trail</h1>",
        _table(("", ""), header),
    ]
    if selection.run is not None:
        out.append(_trace_html(run_trace(records, selection.run)))
    out.append(f"<h2>Entries ({len(records)})</h2>")
    for r in records:
        e = r.event
        out.append(
            f'<h3 id="entry-{r.seq}">#{r.seq} {_h(e.time)} {_h(e.kind)} '
            f"{_h(e.action.value.upper())} <code>{_h(e.target)}</code> "
            f'<span class="{_h(e.outcome)}">{_h(e.outcome)}</span></h3>'
        )
        rows = [*_event_lines(r), ("event", e.id), ("entry", r.digest)]
        out.append(_table(("field", "value"), rows))
    out.append("</body></html>")
    return "\n".join(out) + "\n"
