"""The per-window report: HTML with inline SVG plots (for the KFP UI) and a Markdown summary."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from samdops._types import Array
from samdops.drift.result import DataDriftResult

if TYPE_CHECKING:
    from samdops.drift.alerts import Alert
    from samdops.monitoring.history import WindowRecord

_W, _H = 360, 140


def markdown_summary(
    result: DataDriftResult,
    window: str,
    performance: Mapping[str, Any] | None = None,
    alerts: Sequence[Alert] = (),
) -> str:
    state = result.status.replace("DRIFT", "**DRIFT**", 1)
    lines = [
        f"# Drift monitor: window {window}",
        "",
        f"Data drift: {state} ({len(result.tests)} tests, {result.correction} at "
        f"alpha {result.alpha}; unit: {result.unit}; {result.n_current} current vs "
        f"{result.n_reference} reference).",
        "",
    ]
    if result.drifted:
        lines += ["| feature | kind | test | p-value | finding |", "|---|---|---|---|---|"]
        for t in result.drifted:
            lines.append(
                f"| {t.name} | {t.kind} | {t.test} | {t.p_value:.2g} | {t.finding or ''} |"
            )
    if performance is not None:
        lines += ["", *_performance_lines(performance)]
    for alert in alerts:
        lines += [
            "",
            f"**{alert.severity.upper()} alert** ({alert.kind}): " + "; ".join(alert.evidence),
        ]
    return "\n".join(lines) + "\n"


def _performance_lines(performance: Mapping[str, Any]) -> list[str]:
    base = performance["baseline"]
    lines = [
        "## Model performance",
        "",
        "| | n | AUROC | calibration slope | calibration intercept | alert rate | PPV |",
        "|---|---|---|---|---|---|---|",
        f"| validated baseline | | {_num(base['auroc'])} | {_num(base['calibration_slope'])} | "
        f"{_num(base['calibration_intercept'])} | {_num(base['alert_rate'])} | "
        f"{_num(base.get('ppv'))} |",
    ]
    measured = performance.get("labelled")
    if measured:
        lines.append(
            f"| measured (labels arrived) | {measured['n']} | {_num(measured['auroc'])} | "
            f"{_num(measured['calibration_slope'])} | {_num(measured['calibration_intercept'])} | "
            f"{_num(measured['alert_rate'])} | {_num(measured['ppv'])} |"
        )
    estimated = performance.get("estimated")
    if estimated:
        lines.append(
            f"| **estimated** (no labels yet, CBPE) | {estimated['n']} | "
            f"{_num(estimated['auroc'])} | | | {_num(estimated['alert_rate'])} | "
            f"{_num(estimated['ppv'])} |"
        )
    if measured and measured.get("adwin_changes"):
        lines += ["", f"ADWIN: change in the error stream at {measured['adwin_changes']}."]
    sequential = performance.get("sequential")
    if sequential:
        state = "**DRIFT**" if sequential["is_drift"] else "no drift"
        lines += [
            "",
            f"Concept monitor on the labels that arrived late ({sequential['n_labels']} hours, "
            f"scored when their windows ran): {state}; AUROC {_num(sequential['auroc'])}, "
            f"CUSUM {sequential['cusum']:.2f}"
            + (f"; blamed: {sequential['blamed']}" if sequential["blamed"] else "")
            + ".",
        ]
        lines += [f"- {t['finding']}" for t in sequential["tests"] if t["is_drift"]]
    return lines


def _num(value: object) -> str:
    if isinstance(value, int | float) and math.isfinite(value):
        return f"{value:.3g}"
    return "-"


def html_report(
    result: DataDriftResult,
    window: str,
    reference: Mapping[str, Array],
    current: Mapping[str, Array],
    history: Sequence[tuple[str, float]] = (),
    *,
    performance: Mapping[str, Any] | None = None,
    records: Sequence[WindowRecord] = (),
) -> str:
    """Self-contained HTML: p-values, reference vs current distributions of drifted features,
    the model's performance (measured or estimated) and, over the windows of ``records`` (or
    ``history``: (window, smallest p-value) pairs), the smallest p-value and the AUROC."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Drift monitor {html.escape(window)}</title>",
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}</style>",
        "</head><body>",
        f"<h1>Drift monitor: window {html.escape(window)}</h1>",
        f"<p>{html.escape(result.status).replace('DRIFT', '<b>DRIFT</b>', 1)}: "
        f"{len(result.tests)} tests, "
        f"{html.escape(result.correction)} correction at alpha {result.alpha}, "
        f"unit {html.escape(result.unit)}.</p>",
        "<h2>p-values (-log10)</h2>",
        _pvalue_bars(result),
    ]
    for name in dict.fromkeys(t.name for t in result.drifted if t.kind == "value"):
        if name in reference and name in current:
            parts += [f"<h3>{html.escape(name)}</h3>", _histograms(reference[name], current[name])]
    if performance is not None:
        parts += ["<h2>Model performance</h2>", _performance_table(performance)]
    if records:
        history = [(r.window, r.min_p_value) for r in records]
    if history:
        parts += ["<h2>Smallest p-value over time (-log10)</h2>", _line(history)]
    aurocs = [(r.window, r.auroc) for r in records if r.auroc is not None]
    if aurocs:
        marks = "".join("e" if r.auroc_estimated else "m" for r in records if r.auroc is not None)
        parts += [
            "<h2>AUROC over time</h2>",
            _auroc_line([(w, float(a)) for w, a in aurocs], marks, performance),
            f"<p>{html.escape(aurocs[0][0])} to {html.escape(aurocs[-1][0])}; hollow points are "
            "estimates (no labels yet).</p>",
        ]
    parts.append("<table><tr><th>feature</th><th>kind</th><th>test</th><th>p</th>")
    parts.append("<th>drift</th><th>finding</th></tr>")
    for t in sorted(result.tests, key=lambda t: t.p_value):
        parts.append(
            f"<tr><td>{html.escape(t.name)}</td><td>{t.kind}</td><td>{html.escape(t.test)}</td>"
            f"<td>{t.p_value:.3g}</td><td>{'yes' if t.is_drift else ''}</td>"
            f"<td>{html.escape(t.finding or '')}</td></tr>"
        )
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"


def _pvalue_bars(result: DataDriftResult) -> str:
    tests = sorted(result.tests, key=lambda t: t.p_value)[:25]
    height = 14 * len(tests) + 10
    rows = []
    for i, t in enumerate(tests):
        score = min(-math.log10(max(t.p_value, 1e-300)), 50.0) if t.p_value == t.p_value else 0.0
        width = 220 * score / 50.0
        color = "#c0392b" if t.is_drift else "#7f8c8d"
        label = html.escape(f"{t.name} ({t.kind})")
        rows.append(
            f"<text x='0' y='{14 * i + 11}' font-size='10'>{label}</text>"
            f"<rect x='180' y='{14 * i + 2}' width='{width:.1f}' height='10' fill='{color}'/>"
        )
    return f"<svg width='420' height='{height}'>{''.join(rows)}</svg>"


def _histograms(reference: Array, current: Array) -> str:
    ref, cur = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if len(ref) == 0 or len(cur) == 0:
        return "<p>no values</p>"
    low, high = float(min(ref.min(), cur.min())), float(max(ref.max(), cur.max()))
    edges = np.linspace(low, high if high > low else low + 1, 31)
    bars = []
    for values, color in ((ref, "#2980b9"), (cur, "#e67e22")):
        density = np.histogram(values, edges)[0] / len(values)
        top = max(float(density.max()), 1e-9)
        for i, d in enumerate(density):
            h = (_H - 20) * d / top
            bars.append(
                f"<rect x='{i * _W / 30:.1f}' y='{_H - 15 - h:.1f}' width='{_W / 30 - 1:.1f}' "
                f"height='{h:.1f}' fill='{color}' fill-opacity='0.5'/>"
            )
    legend = (
        f"<text x='0' y='{_H - 2}' font-size='10'>{low:.3g}</text>"
        f"<text x='{_W - 40}' y='{_H - 2}' font-size='10'>{high:.3g}</text>"
        "<text x='120' y='10' font-size='10' fill='#2980b9'>reference</text>"
        "<text x='190' y='10' font-size='10' fill='#e67e22'>current</text>"
    )
    return f"<svg width='{_W}' height='{_H}'>{''.join(bars)}{legend}</svg>"


def _line(history: Sequence[tuple[str, float]]) -> str:
    values = [min(-math.log10(max(p, 1e-300)), 50.0) for _, p in history]
    top = max(max(values), 1.0)
    step = _W / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{_H - 10 - (_H - 20) * v / top:.1f}" for i, v in enumerate(values)
    )
    return (
        f"<svg width='{_W}' height='{_H}'><polyline points='{points}' fill='none' "
        f"stroke='#2c3e50'/></svg>"
    )


def _performance_table(performance: Mapping[str, Any]) -> str:
    rows = ["<table><tr><th></th><th>n</th><th>AUROC</th><th>calibration slope</th>"]
    rows.append("<th>calibration intercept</th><th>alert rate</th><th>PPV</th></tr>")
    base = performance["baseline"]
    rows.append(
        f"<tr><td>validated baseline</td><td></td><td>{_num(base['auroc'])}</td>"
        f"<td>{_num(base['calibration_slope'])}</td><td>{_num(base['calibration_intercept'])}</td>"
        f"<td>{_num(base['alert_rate'])}</td><td>{_num(base.get('ppv'))}</td></tr>"
    )
    for key, label in (("labelled", "measured"), ("estimated", "<b>estimated</b> (CBPE)")):
        part = performance.get(key)
        if not part:
            continue
        flag = " <b>below baseline</b>" if part.get("is_drift") else ""
        rows.append(
            f"<tr><td>{label}{flag}</td><td>{part['n']}</td><td>{_num(part['auroc'])}</td>"
            f"<td>{_num(part.get('calibration_slope'))}</td>"
            f"<td>{_num(part.get('calibration_intercept'))}</td>"
            f"<td>{_num(part['alert_rate'])}</td><td>{_num(part['ppv'])}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _auroc_line(
    points: Sequence[tuple[str, float]], marks: str, performance: Mapping[str, Any] | None
) -> str:
    values = [v for _, v in points]
    baseline = None if performance is None else float(performance["baseline"]["auroc"])
    span = [*values, *([baseline] if baseline is not None else [])]
    low, high = min(span) - 0.02, max(span) + 0.02
    step = _W / max(len(values) - 1, 1)

    def y(v: float) -> float:
        return _H - 10 - (_H - 20) * (v - low) / max(high - low, 1e-9)

    dots = "".join(
        f"<circle cx='{i * step:.1f}' cy='{y(v):.1f}' r='3' stroke='#2c3e50' "
        f"fill='{'white' if m == 'e' else '#2c3e50'}'/>"
        for i, (v, m) in enumerate(zip(values, marks, strict=True))
    )
    line = " ".join(f"{i * step:.1f},{y(v):.1f}" for i, v in enumerate(values))
    ref = (
        f"<line x1='0' x2='{_W}' y1='{y(baseline):.1f}' y2='{y(baseline):.1f}' "
        "stroke='#27ae60' stroke-dasharray='4'/>"
        if baseline is not None
        else ""
    )
    return (
        f"<svg width='{_W}' height='{_H}'>{ref}<polyline points='{line}' fill='none' "
        f"stroke='#2c3e50'/>{dots}</svg>"
    )
