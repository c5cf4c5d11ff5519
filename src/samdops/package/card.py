"""The model card: JSON (the source of truth), rendered as Markdown and as self-contained HTML.

Fields follow the clinical model card of ``regulatory-requirements.md``: identity, intended use,
model (inputs with units and valid ranges, output, threshold), data (per dataset), performance
(acceptance criteria, results with 95% CIs, calibration, subgroups), risks and limitations,
lifecycle (monitoring, drift thresholds, PCCP) and integrity (card digest, e-signatures). The text
comes from a YAML file next to the training config (``configs/pima-card.yaml``,
``configs/sepsis-card.yaml``); every number comes from the registry record, the evaluation
report, the resolved config and the audit log.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from samdops.config import TrainingConfig, _Frozen
from samdops.digest import canonical_json, sha256_bytes
from samdops.errors import ConfigError
from samdops.governance.text import escaped
from samdops.inputs import read_yaml
from samdops.summary import format_estimate

CARD_SCHEMA = "samdops.model-card/v1"


class IntendedUse(_Frozen):
    clinical_task: str
    target_population: str
    intended_users: str
    decision_role: str
    out_of_scope: tuple[str, ...]


class Limitations(_Frozen):
    failure_modes: tuple[str, ...]
    biases: tuple[str, ...]


class Monitoring(_Frozen):
    plan: str
    drift_thresholds: str
    retraining_policy: str


class CardText(_Frozen):
    """The written parts of a model card and its datasheets."""

    model: str
    developer: str
    regulatory_status: str
    safety_class: str
    pccp: str
    intended_use: IntendedUse
    output: str
    limitations: Limitations
    monitoring: Monitoring
    datasets: dict[str, Any]


PIMA_CARD = "pima-card.yaml"


def default_card_path(model: str | None = None) -> Path:
    """The packaged card text (``configs/*-card.yaml``) of the model named ``model``.

    Without a name, or when no packaged card names that model, the Pima model's card: callers
    compare its ``model`` with the registry name and refuse (or skip) a card of another model.
    """
    configs = Path(str(resources.files("samdops") / "configs"))
    if model is not None:
        for path in sorted(configs.glob("*-card.yaml")):
            if load_card_text(path).model == model:
                return path
    return configs / PIMA_CARD


def load_card_text(path: str | Path) -> CardText:
    """The card text YAML at ``path``; a one-line :class:`ConfigError` that quotes none of it."""
    raw = read_yaml(path, "model card text")
    try:
        return CardText.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None


def build_card(
    *,
    record: dict[str, Any],
    governed: dict[str, Any],
    evaluation: dict[str, Any],
    config: TrainingConfig,
    text: CardText,
    datasheets: list[dict[str, Any]],
    package_id: str | None = None,
) -> dict[str, Any]:
    """The model card as a JSON-ready dict (``package_id`` when it ships in a package)."""
    contract = config.contract
    inputs = [
        {
            "name": c.name,
            "unit": c.unit,
            "description": c.description,
            "valid_range": [c.min, c.max],
            "missing_codes": list(c.missing_codes),
            "max_missing": c.max_missing,
        }
        for c in contract.columns
        if c.name != contract.label
    ]
    card: dict[str, Any] = {
        "schema": CARD_SCHEMA,
        "identity": {
            "name": record["name"],
            "version": record["version"],
            "model_sha256": record["model"]["sha256"],
            "developer": text.developer,
            "release_stage": governed["state"],
            "registered_at": record["registered_at"],
            "regulatory_status": text.regulatory_status,
            "pccp": text.pccp,
            "package_id": package_id,
        },
        "intended_use": text.intended_use.model_dump(mode="json"),
        "model": {
            "type": record["model"].get("family"),
            "description": config.description,
            "inputs": inputs,
            "output": text.output,
            "threshold": evaluation["threshold"],
        },
        "data": [
            {k: sheet[k] for k in ("dataset", "sha256", "source", "timeframe", "composition")}
            | {"inclusion_exclusion": sheet["inclusion_exclusion"]}
            | {"label_definition": sheet["label_definition"]}
            for sheet in datasheets
        ],
        "performance": {
            "acceptance_criteria": [c.describe() for c in config.evaluation.acceptance],
            "gate": evaluation["gate"],
            "test_set": {
                "sha256": evaluation["test_sha256"],
                "size": evaluation["overall"]["size"],
                "positives": evaluation["overall"]["positives"],
            },
            "metrics": evaluation["overall"]["metrics"],
            "comparator": evaluation["comparator"],
            "cross_validation": evaluation["cross_validation"],
            "calibration": evaluation["reliability"],
            "subgroups": evaluation["subgroups"],
        },
        "risks_and_limitations": {
            **text.limitations.model_dump(mode="json"),
            "safety_class": text.safety_class,
        },
        "lifecycle": text.monitoring.model_dump(mode="json"),
    }
    card["integrity"] = {
        "card_sha256": sha256_bytes(canonical_json(card)),
        "record_sha256": governed["record_sha256"],
        "signatures": [
            {k: s[k] for k in ("name", "signer", "signed_at", "meaning", "display")}
            for s in governed["signatures"]
        ],
    }
    return card


def _sections(card: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]] | list[list[str]]]]:
    """The card as (title, rows) sections; rows are key/value pairs or table rows."""
    ident, use, model, perf = (
        card["identity"],
        card["intended_use"],
        card["model"],
        card["performance"],
    )
    risks, life, integ = card["risks_and_limitations"], card["lifecycle"], card["integrity"]
    out: list[tuple[str, list[tuple[str, str]] | list[list[str]]]] = []
    order = ["name", "version", "model_sha256", "developer", "release_stage", "registered_at"]
    order += ["regulatory_status", "pccp"] + (["package_id"] if ident.get("package_id") else [])
    out.append(("Identity", [(k.replace("_", " "), str(ident[k])) for k in order]))
    out.append(
        (
            "Intended use",
            [
                ("clinical task", use["clinical_task"]),
                ("target population", use["target_population"]),
                ("intended users", use["intended_users"]),
                ("decision role", use["decision_role"]),
            ]
            + [("out of scope", x) for x in use["out_of_scope"]],
        )
    )
    out.append(
        (
            "Model",
            [
                ("type", str(model["type"])),
                ("description", model["description"]),
                ("output", model["output"]),
                ("operating threshold", str(model["threshold"])),
            ],
        )
    )
    out.append(
        (
            "Inputs",
            [["feature", "unit", "valid range", "description"]]
            + [
                [
                    i["name"],
                    i["unit"],
                    _range(i["valid_range"]),
                    i["description"],
                ]
                for i in model["inputs"]
            ],
        )
    )
    data_rows = [["dataset", "sha256", "rows", "prevalence", "source"]]
    for d in card["data"]:
        comp = d["composition"] or {}
        data_rows.append(
            [
                d["dataset"],
                d["sha256"],
                str(comp.get("rows", "n/a")),
                str(comp.get("prevalence", "n/a")),
                d["source"],
            ]
        )
    out.append(("Data", data_rows))
    out.extend(_data_details(card["data"]))
    test = perf["test_set"]
    metric_rows = [
        ["metric", f"held-out test set (n={test['size']}, {test['positives']} positive)"]
    ]
    metric_rows += [[name, format_estimate(v)] for name, v in perf["metrics"].items()]
    metric_rows.append(
        [
            f"comparator AUROC ({perf['comparator']['name']})",
            format_estimate(perf["comparator"]["metrics"]["auroc"]),
        ]
    )
    out.append(("Performance", metric_rows))
    gate_rows = [["criterion", "group", "value", "result"]]
    for c in perf["gate"]["criteria"]:
        result = {True: "pass", False: "FAIL", None: c.get("note") or "n/a"}[c["passed"]]
        value = "n/a" if c["value"] is None else f"{c['value']:.3f}"
        gate_rows.append([c["criterion"], c["group"], value, result])
    verdict = "PASSED" if perf["gate"]["passed"] else "FAILED"
    out.append((f"Acceptance criteria (gate {verdict})", gate_rows))
    sub_rows = [["subgroup", "n", "positives", "AUROC", "sensitivity"]]
    for g in perf["subgroups"]:
        sub_rows.append(
            [
                g["name"],
                str(g["size"]),
                str(g["positives"]),
                format_estimate(g["metrics"]["auroc"]),
                format_estimate(g["metrics"].get("sensitivity", {})),
            ]
        )
    out.append(("Subgroups", sub_rows))
    cal = perf["calibration"]
    cal_rows = [["mean predicted", "observed rate", "n"]]
    for p, o, n in zip(cal["mean_predicted"], cal["observed_rate"], cal["count"], strict=True):
        if n:
            cal_rows.append([f"{p:.3f}", f"{o:.3f}", str(int(n))])
    out.append(("Calibration (reliability curve)", cal_rows))
    out.append(
        (
            "Risks and limitations",
            [("safety class", risks["safety_class"])]
            + [("failure mode", x) for x in risks["failure_modes"]]
            + [("bias", x) for x in risks["biases"]],
        )
    )
    out.append(
        (
            "Lifecycle",
            [
                ("monitoring plan", life["plan"]),
                ("drift thresholds", life["drift_thresholds"]),
                ("retraining policy (PCCP)", life["retraining_policy"]),
            ],
        )
    )
    sig_rows = [["printed name", "user id", "signed (UTC)", "meaning"]]
    sig_rows += [
        [s["name"], s["signer"], s["signed_at"], s["meaning"]] for s in integ["signatures"]
    ]
    if len(sig_rows) == 1:
        sig_rows.append(["(none yet)", "", "", ""])
    out.append(("Signatures", sig_rows))
    out.append(
        (
            "Integrity",
            [("card sha256", integ["card_sha256"]), ("record sha256", integ["record_sha256"])],
        )
    )
    return out


def _data_details(
    data: list[dict[str, Any]],
) -> list[tuple[str, list[tuple[str, str]] | list[list[str]]]]:
    """Label definition, inclusion, and per-column missingness and observed range per dataset."""
    if not data:
        return []
    first = data[0]
    text = [
        ("timeframe", str(first["timeframe"])),
        ("inclusion / exclusion", str(first["inclusion_exclusion"])),
        ("label definition", str(first["label_definition"])),
    ]
    shipped = [d for d in data if d["composition"]]
    if not shipped:
        return [("Data: definitions", text)]
    header = ["feature"] + [f"{d['dataset']} missing / observed range" for d in shipped]
    rows = [header]
    for name in shipped[0]["composition"]["columns"]:
        row = [name]
        for d in shipped:
            col = d["composition"]["columns"][name]
            row.append(f"{col['missing_rate']:.1%} / {_range([col['min'], col['max']])}")
        rows.append(row)
    return [("Data: definitions", text), ("Data: missingness and observed ranges", rows)]


def _range(bounds: list[float | None]) -> str:
    low, high = ("" if b is None else f"{b:g}" for b in bounds)
    return f"{low} to {high}".strip()


def _is_table(rows: list[Any]) -> bool:
    return bool(rows) and isinstance(rows[0], list)


def _md(text: str) -> str:
    """A table cell or value on one Markdown line: no stored text can start another one."""
    return escaped(text).replace("|", "\\|")


def render_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown (also shown in the Kubeflow UI)."""
    ident = card["identity"]
    lines = [f"# Model card: {escaped(str(ident['name']))}@{ident['version']}", ""]
    for title, rows in _sections(card):
        lines += [f"## {escaped(title)}", ""]
        if _is_table(rows):
            table = [list(r) for r in rows]
            lines.append("| " + " | ".join(_md(c) for c in table[0]) + " |")
            lines.append("|" + "---|" * len(table[0]))
            lines += ["| " + " | ".join(_md(c) for c in r) + " |" for r in table[1:]]
        else:
            lines += [f"- **{_md(k)}**: {_md(v)}" for k, v in rows]
        lines.append("")
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:70rem;color:#1b1f23;line-height:1.45;padding:0 1rem}
h1{border-bottom:3px solid #0b5394;padding-bottom:.3rem}h2{color:#0b5394;margin-top:1.8rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #c8ced6;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#eef3f8}tr:nth-child(even) td{background:#fafbfc}
dl{display:grid;grid-template-columns:14rem 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}
code,.digest{font-family:ui-monospace,monospace;font-size:.85em;word-break:break-all}
.fail{color:#b00020;font-weight:700}.pass{color:#1e7b34;font-weight:700}
"""


def _html(text: str) -> str:
    return html.escape(escaped(text))


def _cell(text: str) -> str:
    shown = _html(text)
    if text == "FAIL":
        return f'<span class="fail">{shown}</span>'
    if text == "pass":
        return f'<span class="pass">{shown}</span>'
    if text.startswith("sha256:"):
        return f'<span class="digest">{shown}</span>'
    return shown


def render_html(card: dict[str, Any]) -> str:
    """The card as one self-contained HTML page (inline CSS, no scripts, no network)."""
    ident = card["identity"]
    title = _html(f"Model card: {ident['name']}@{ident['version']}")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        f"<title>{title}</title><style>{_CSS}</style></head><body>",
        f"<h1>{title}</h1>",
    ]
    for name, rows in _sections(card):
        parts.append(f"<h2>{_html(name)}</h2>")
        if _is_table(rows):
            table = [list(r) for r in rows]
            head = "".join(f"<th>{_html(c)}</th>" for c in table[0])
            body = "".join(
                "<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in r) + "</tr>" for r in table[1:]
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        else:
            items = "".join(f"<dt>{_html(k)}</dt><dd>{_cell(v)}</dd>" for k, v in rows)
            parts.append(f"<dl>{items}</dl>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
