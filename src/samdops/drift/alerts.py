"""Alerts of the drift monitor, emitted through a small sink protocol.

The production sink is :class:`samdops.monitoring.audit_sink.AuditAlertSink` (an audit entry and a
SIEM event per alert); :class:`JsonlAlertSink` is a plain file for local experiments.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from samdops.drift.result import DataDriftResult

Severity = Literal["info", "warning", "critical"]
NEW_CATEGORY = "new category"  # the test name of a category the reference never had
NOT_REQUESTED = "not requested"


@dataclass(frozen=True)
class Alert:
    severity: Severity
    kind: str  # "data_drift" | "concept_drift"
    window: str
    features: tuple[str, ...]
    evidence: tuple[str, ...]
    model: str = ""  # registry id (name@version) of the monitored model; "" when unscored
    findings_sha256: str = ""  # digest of the findings document the alert comes from
    retraining: str = NOT_REQUESTED  # or "requested: run <run>"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        return cls(
            severity=cast(Severity, data["severity"]),
            kind=str(data["kind"]),
            window=str(data["window"]),
            features=tuple(data["features"]),
            evidence=tuple(data["evidence"]),
            model=str(data.get("model", "")),
            findings_sha256=str(data.get("findings_sha256", "")),
            retraining=str(data.get("retraining", NOT_REQUESTED)),
        )


class AlertSink(Protocol):
    def emit(self, alert: Alert) -> None: ...


class JsonlAlertSink:
    """Appends one JSON line per alert and fsyncs, so an emitted alert survives a crash."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def emit(self, alert: Alert) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(alert.as_dict(), sort_keys=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


def data_drift_alert(result: DataDriftResult, window: str, model: str = "") -> Alert | None:
    """One alert for a drifted window: critical for scale errors, missing sensors and values
    that are not finite or outside the data contract's range."""
    drifted = result.drifted
    if not drifted:
        return None
    evidence = tuple(
        t.finding or t.name
        if t.kind == "quality"
        else f"{t.finding or t.name} ({t.test}, p={t.p_value:.2g})"
        for t in drifted
    )
    critical = (
        any(t.finding and ("x larger" in t.finding or "x smaller" in t.finding) for t in drifted)
        or drifted[0].kind == "missingness"
        or any(t.kind == "quality" and t.test != NEW_CATEGORY for t in drifted)
    )
    return Alert(
        severity="critical" if critical else "warning",
        kind="data_drift",
        window=window,
        features=tuple(dict.fromkeys(t.name for t in drifted)),
        evidence=evidence,
        model=model,
    )


def concept_drift_alert(concept: Mapping[str, Any], window: str, model: str) -> Alert | None:
    """An alert when performance is below the validated baseline or the concept monitor on the
    late labels alarms: critical when labels show it, a warning when only the label-free
    estimate says so."""
    labelled = concept.get("labelled") or {}
    estimated = concept.get("estimated") or {}
    sequential = concept.get("sequential") or {}
    validated = float((concept.get("baseline") or {}).get("auroc", float("nan")))
    evidence: list[str] = []
    features: list[str] = []
    if labelled.get("is_drift"):
        evidence.append(
            f"measured AUROC {labelled['auroc']:.3f} below the validated {validated:.3f} "
            f"(n={labelled['n']})"
        )
        features.append("model score")
        if labelled.get("adwin_changes"):
            evidence.append(f"ADWIN change in the error stream at {labelled['adwin_changes']}")
    if sequential.get("is_drift"):
        for test in sequential.get("tests", []):
            if test.get("is_drift"):
                evidence.append(f"{test['finding']} ({test['test']}, p={test['p_value']:.2g})")
                features.append(str(test["name"]))
        if sequential.get("cusum_alarm"):
            evidence.append(f"CUSUM of the AUROC on arrived labels at {sequential['cusum']:.1f}")
        if sequential.get("adwin_change"):
            evidence.append("ADWIN change in the per-stay error stream of arrived labels")
        features.append(str(sequential.get("blamed") or "model score"))
    if evidence:
        severity: Severity = "critical"
    elif estimated.get("is_drift"):
        severity = "warning"
        evidence.append(
            f"estimated AUROC (no labels yet, CBPE) {estimated['auroc']:.3f} below the "
            f"validated {validated:.3f} (n={estimated['n']})"
        )
        features.append("model score")
    else:
        return None
    return Alert(
        severity=severity,
        kind="concept_drift",
        window=window,
        features=tuple(dict.fromkeys(features)),
        evidence=tuple(evidence),
        model=model,
    )
