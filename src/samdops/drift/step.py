"""The monitoring pipeline's steps, as its KFP components call them (thin components).

fetch window -> drift monitor (HTML report, Markdown summary, findings JSON, metrics)
-> record alerts (through an :class:`AlertSink`; the audit/SIEM sink plugs in there).
An alert may start the retraining pipeline, which goes through the change-control gate; the
monitor never releases a model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samdops.atomic import atomic_write_text
from samdops.digest import sha256_file
from samdops.drift.alerts import Alert, JsonlAlertSink, data_drift_alert
from samdops.drift.io import read_table
from samdops.drift.report import html_report, markdown_summary
from samdops.drift.scipy_detector import ScipyDriftDetector
from samdops.steps import ArtifactLike


def fetch_window_step(
    reference_path: str, current_path: str, reference: ArtifactLike, current: ArtifactLike
) -> None:
    """Copy the reference and the window into the run's artifacts as Parquet (digests recorded).
    In the cluster the paths are the store's mounted or downloaded objects."""
    for source, artifact, what in (
        (reference_path, reference, "reference"),
        (current_path, current, "current"),
    ):
        frame = read_table(Path(source), what)
        Path(artifact.path).parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(artifact.path, index=False)
        artifact.metadata["sha256"] = sha256_file(artifact.path)
        artifact.metadata["rows"] = len(frame)


def drift_monitor_step(
    reference: ArtifactLike,
    current: ArtifactLike,
    window: str,
    id_column: str,
    time_column: str,
    categorical: str,
    alpha: float,
    correction: str,
    report: ArtifactLike,
    summary: ArtifactLike,
    findings: ArtifactLike,
) -> dict[str, Any]:
    """Test the window against the reference; write the report, summary and findings."""
    ref = pd.read_parquet(reference.path)  # fetch_window wrote both as Parquet
    cur = pd.read_parquet(current.path)
    special = [c for c in (id_column, time_column) if c]
    features = [c for c in ref.columns if c not in special]
    detector = ScipyDriftDetector(
        features,
        categorical=[c for c in categorical.split(",") if c],
        id_column=id_column or None,
        time_column=time_column or None,
        alpha=alpha,
        correction=correction,
    )
    result = detector.fit(ref).predict(cur)
    ref_values = {f: ref[f].to_numpy(dtype=float) for f in features if f not in categorical}
    cur_values = {f: cur[f].to_numpy(dtype=float) for f in features if f not in categorical}
    atomic_write_text(report.path, html_report(result, window, ref_values, cur_values))
    atomic_write_text(summary.path, markdown_summary(result, window))
    alert = data_drift_alert(result, window)
    document = {
        "window": window,
        "data_drift": result.as_dict(),
        "alert": None if alert is None else alert.as_dict(),
    }
    atomic_write_text(findings.path, json.dumps(document, sort_keys=True, default=_json) + "\n")
    findings.metadata["sha256"] = sha256_file(findings.path)
    return {
        "is_drift": result.is_drift,
        "drifted_tests": len(result.drifted),
        "blamed": result.blamed or "",
    }


def record_alerts_step(findings: ArtifactLike, alert_log: str) -> bool:
    """Emit the window's alert, if any, to the alert sink; return whether there was one."""
    document = json.loads(Path(findings.path).read_text(encoding="utf-8"))
    data = document.get("alert")
    if data is None:
        return False
    alert = Alert(
        severity=data["severity"],
        kind=data["kind"],
        window=data["window"],
        features=tuple(data["features"]),
        evidence=tuple(data["evidence"]),
    )
    JsonlAlertSink(alert_log).emit(alert)
    return True


def _json(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")
