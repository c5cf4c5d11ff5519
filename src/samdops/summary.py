"""The run summary: Markdown for the Kubeflow UI and the terminal."""

from __future__ import annotations

from typing import Any


def format_estimate(value: dict[str, Any]) -> str:
    """``0.872 (95% CI 0.814-0.922)``, or just the point, or ``n/a``."""
    point, low, high = value.get("point"), value.get("ci_low"), value.get("ci_high")
    if point is None:
        return "n/a"
    if low is None or high is None:
        return f"{point:.3f}"
    return f"{point:.3f} (95% CI {low:.3f}-{high:.3f})"


def metrics_table(metrics: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| metric | value |", "|---|---|"]
    lines += [f"| {name} | {format_estimate(value)} |" for name, value in metrics.items()]
    return lines


def run_summary_markdown(record: dict[str, Any], evaluation: dict[str, Any]) -> str:
    """Model identity, digest, metrics with CIs, CV, subgroups and the gate decision."""
    gate = record["gate"]
    verdict = "PASSED" if gate["passed"] else "FAILED"
    lines = [
        f"# {record['name']}@{record['version']}: gate {verdict}",
        "",
        f"- model: `{record['model']['sha256']}` ({record['model'].get('family')})",
        f"- status: **{record['status']}**",
        f"- test set: `{record['artifacts']['test']['sha256']}` "
        f"(registered {record['lineage']['test_set_registered_at']})",
        f"- code: `{record['lineage']['code'].get('git_commit')}`",
        f"- operating threshold: {evaluation['threshold']}",
        "",
        "## Held-out test set",
        "",
        *metrics_table(record["metrics"]),
        "",
        f"Comparator ({evaluation['comparator']['name']}) AUROC: "
        f"{format_estimate(evaluation['comparator']['metrics']['auroc'])}",
        "",
        "## Cross-validation on the training set (AUROC)",
        "",
    ]
    for cv in record.get("cross_validation", []):
        scores = cv["auroc"]
        mean = sum(scores) / len(scores)
        lines.append(f"- {cv['family']}: mean {mean:.3f} over {cv['folds']} folds")
    lines += ["", "## Subgroups", "", "| group | n | positives | AUROC |", "|---|---|---|---|"]
    for group in evaluation["subgroups"]:
        auroc = format_estimate(group["metrics"]["auroc"])
        lines.append(f"| {group['name']} | {group['size']} | {group['positives']} | {auroc} |")
    lines += ["", "## Calibration (reliability curve)", "", "| mean predicted | observed | n |"]
    lines.append("|---|---|---|")
    curve = evaluation["reliability"]
    for p, o, n in zip(
        curve["mean_predicted"], curve["observed_rate"], curve["count"], strict=True
    ):
        if n:
            lines.append(f"| {p:.3f} | {o:.3f} | {int(n)} |")
    lines += ["", "## Acceptance criteria", "", "| criterion | group | value | result |"]
    lines.append("|---|---|---|---|")
    for c in gate["criteria"]:
        result = {True: "pass", False: "FAIL", None: c.get("note") or "n/a"}[c["passed"]]
        lines.append(f"| {c['criterion']} | {c['group']} | {c['value']} | {result} |")
    return "\n".join(lines) + "\n"
