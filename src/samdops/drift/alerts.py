"""Alerts of the drift monitor, emitted through a small sink protocol.

The audit log / SIEM hook belongs in an ``AlertSink`` implementation that writes each alert as an
audit entry and a SIEM event; the monitor only depends on this protocol.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from samdops.drift.result import DataDriftResult

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True)
class Alert:
    severity: Severity
    kind: str  # "data_drift" | "concept_drift"
    window: str
    features: tuple[str, ...]
    evidence: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def data_drift_alert(result: DataDriftResult, window: str) -> Alert | None:
    """One alert for a drifted window: critical for scale errors or missing sensors."""
    drifted = result.drifted
    if not drifted:
        return None
    evidence = tuple(f"{t.finding or t.name} ({t.test}, p={t.p_value:.2g})" for t in drifted)
    critical = (
        any(t.finding and ("x larger" in t.finding or "x smaller" in t.finding) for t in drifted)
        or drifted[0].kind == "missingness"
    )
    return Alert(
        severity="critical" if critical else "warning",
        kind="data_drift",
        window=window,
        features=tuple(dict.fromkeys(t.name for t in drifted)),
        evidence=evidence,
    )
