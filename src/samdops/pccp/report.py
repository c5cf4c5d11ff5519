"""The change record rendered for people: Markdown (Kubeflow UI, terminal) and HTML."""

from __future__ import annotations

import html
from typing import Any

_VERDICT = {
    "candidate": "inside the plan and passing: a candidate awaiting the plan's signatures",
    "rejected": "inside the plan but failing: rejected",
    "outside-plan": "OUTSIDE the plan: needs a new regulatory submission; cannot be released",
}


def change_markdown(record: dict[str, Any]) -> str:
    """What changed, why it is (or is not) inside the plan, and every check with its numbers."""
    plan = record["plan"]
    lines = [
        f"# Change under PCCP {plan['id']} v{plan['version']}: {record['outcome']}",
        "",
        f"- verdict: **{_VERDICT[record['outcome']]}**",
        f"- modification type: {record['modification']}",
        f"- released model: {record['released']['id']} (`{record['released']['model_sha256']}`)",
        f"- candidate model: `{record['candidate']['model_sha256']}`",
        f"- plan record: {plan['record']} (`{plan['record_sha256']}`)",
        "",
        "## What changed",
        "",
    ]
    changes = record["checks"][0].get("changes", {})
    if changes:
        lines += ["| parameter | released | candidate |", "|---|---|---|"]
        lines += [f"| {k} | {v['from']} | {v['to']} |" for k, v in changes.items()]
    else:
        lines.append("Only the data changed (new training and test sets).")
    lines += ["", "## Checks", "", "| check | result | detail |", "|---|---|---|"]
    for check in record["checks"]:
        result = "pass" if check["passed"] else "FAIL"
        lines.append(f"| {check['name']} | {result} | {check['detail']} |")
    criteria = next(c for c in record["checks"] if c["name"] == "acceptance").get("criteria", [])
    if criteria:
        lines += [
            "",
            "## Acceptance criteria (fixed in the plan)",
            "",
            "| criterion | group | value | result |",
            "|---|---|---|---|",
        ]
        for c in criteria:
            result = {True: "pass", False: "FAIL", None: c.get("note") or "n/a"}[c["passed"]]
            lines.append(f"| {c['criterion']} | {c['group']} | {c['value']} | {result} |")
    return "\n".join(lines) + "\n"


def change_html(record: dict[str, Any]) -> str:
    """A self-contained HTML page of :func:`change_markdown` (tables, no scripts, no network)."""
    body: list[str] = []
    rows: list[str] = []
    for line in change_markdown(record).splitlines():
        if line.startswith("|"):
            if set(line) <= {"|", "-"}:
                continue
            tag = "th" if not rows else "td"
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            rows.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
            continue
        if rows:
            body.append("<table>" + "".join(rows) + "</table>")
            rows = []
        text = html.escape(line).replace("**", "")
        if line.startswith("# "):
            body.append(f"<h1>{text[2:]}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{text[3:]}</h2>")
        elif line.startswith("- "):
            body.append(f"<p>&bull; {text[2:]}</p>")
        elif line:
            body.append(f"<p>{text}</p>")
    if rows:
        body.append("<table>" + "".join(rows) + "</table>")
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #999;padding:4px 8px}"
        "th{background:#eee}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>PCCP change record</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )
