"""Datasheets for datasets (Gebru et al.): text from the card defaults, numbers from the data.

A datasheet gives a dataset's source, collection, composition (rows, label prevalence, per-column
missingness computed from the snapshot), label definition, known biases and recommended uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samdops.config import DataContract


def composition(snapshot: Path, contract: DataContract) -> dict[str, Any]:
    """Rows, label prevalence and per-column missing rates of a Parquet snapshot."""
    import pandas as pd

    frame = pd.read_parquet(snapshot)
    label = frame[contract.label]
    columns = {}
    for spec in contract.columns:
        if spec.name == contract.label or spec.name not in frame.columns:
            continue
        values = frame[spec.name]
        present = values.dropna()
        columns[spec.name] = {
            "unit": spec.unit,
            "missing_rate": round(float(values.isna().mean()), 4),
            "min": None if present.empty else float(present.min()),
            "max": None if present.empty else float(present.max()),
        }
    return {
        "rows": len(frame),
        "positives": int(label.sum()),
        "prevalence": round(float(label.mean()), 4),
        "columns": columns,
    }


def build_datasheet(
    role: str,
    *,
    sha256: str,
    uri: str,
    included: str | None,
    snapshot: Path | None,
    contract: DataContract,
    text: dict[str, Any],
) -> dict[str, Any]:
    """The datasheet of one dataset (``included`` is its path in the package, if shipped)."""
    return {
        "dataset": role,
        "sha256": sha256,
        "storage_uri": uri,
        "included_as": included,
        "contract": f"{contract.name}@{contract.version}",
        "source": text.get("source", ""),
        "timeframe": text.get("timeframe", ""),
        "collection": text.get("collection", ""),
        "inclusion_exclusion": text.get("inclusion_exclusion", ""),
        "label_definition": text.get("label_definition", ""),
        "composition": composition(snapshot, contract) if snapshot else None,
        "known_biases": list(text.get("known_biases", ())),
        "recommended_uses": list(text.get("recommended_uses", ())),
        "not_recommended": list(text.get("not_recommended", ())),
    }


def datasheet_markdown(sheet: dict[str, Any]) -> str:
    """A datasheet as Markdown."""
    lines = [
        f"# Datasheet: {sheet['dataset']} set",
        "",
        f"- sha256: `{sheet['sha256']}`",
        f"- storage URI: `{sheet['storage_uri']}`",
        f"- in this package: {sheet['included_as'] or 'not included (digest and URI only)'}",
        f"- data contract: {sheet['contract']}",
        "",
    ]
    for key in ("source", "timeframe", "collection", "inclusion_exclusion", "label_definition"):
        lines += [f"## {key.replace('_', ' ').capitalize()}", "", str(sheet[key]), ""]
    comp = sheet["composition"]
    lines += ["## Composition", ""]
    if comp is None:
        lines += ["Not computed: the snapshot is not in the package.", ""]
    else:
        lines += [
            f"{comp['rows']} rows, {comp['positives']} positive "
            f"(prevalence {comp['prevalence']:.3f}).",
            "",
            "| column | unit | missing | min | max |",
            "|---|---|---|---|---|",
        ]
        for name, col in comp["columns"].items():
            lines.append(
                f"| {name} | {col['unit']} | {col['missing_rate']:.1%} | {col['min']} | "
                f"{col['max']} |"
            )
        lines.append("")
    for key in ("known_biases", "recommended_uses", "not_recommended"):
        lines += [f"## {key.replace('_', ' ').capitalize()}", ""]
        lines += [f"- {item}" for item in sheet[key]] + [""]
    return "\n".join(lines)
