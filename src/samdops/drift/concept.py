"""Concept drift with late labels: windowed performance, a sequential test, a label-free estimate.

Labelled windows get AUROC, calibration slope/intercept and PPV of alerts, compared with the
validated baseline, and the error stream (Brier error per prediction) is fed to river's ADWIN.
Windows without labels yet get a CBPE-style estimate from the model's own (calibrated) scores,
marked ``"estimated": True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from samdops._types import Array
from samdops.training.metrics import auroc, calibration_line


@dataclass(frozen=True)
class Baseline:
    auroc: float
    alert_rate: float
    threshold: float
    max_auroc_drop: float = 0.05


def expected_auroc(score: Array) -> float:
    """AUROC expected if scores are calibrated probabilities (CBPE): pairs weighted by p(1-p)."""
    p = np.sort(np.clip(score, 0.0, 1.0))
    neg_below = np.cumsum(1.0 - p) - (1.0 - p)  # expected negatives with a lower score
    positives, negatives = p.sum(), (1.0 - p).sum()
    if positives <= 0 or negatives <= 0:
        return float("nan")
    return float(np.sum(p * neg_below) / (positives * negatives))


def labelled_window(y: Array, score: Array, baseline: Baseline) -> dict[str, Any]:
    alerts = score >= baseline.threshold
    both = len(np.unique(y)) == 2
    value = auroc(y, score) if both else float("nan")
    slope, intercept = calibration_line(y, score) if both else (float("nan"), float("nan"))
    return {
        "estimated": False,
        "n": len(y),
        "auroc": value,
        "calibration_slope": slope,
        "calibration_intercept": intercept,
        "ppv": float(y[alerts].mean()) if alerts.any() else None,
        "alert_rate": float(alerts.mean()),
        "is_drift": bool(both and value < baseline.auroc - baseline.max_auroc_drop),
    }


def estimated_window(score: Array, baseline: Baseline) -> dict[str, Any]:
    alerts = score >= baseline.threshold
    value = expected_auroc(score)
    return {
        "estimated": True,
        "n": len(score),
        "auroc": value,
        "ppv": float(score[alerts].mean()) if alerts.any() else None,
        "alert_rate": float(alerts.mean()),
        "is_drift": bool(value < baseline.auroc - baseline.max_auroc_drop),
    }


def adwin_changes(y: Array, score: Array, delta: float = 0.002) -> list[int]:
    """Indices where ADWIN on the Brier error stream detects a change (in label-arrival order)."""
    from river.drift import ADWIN

    detector = ADWIN(delta=delta)  # type: ignore[no-untyped-call]
    changes = []
    for i, error in enumerate((score - y) ** 2):
        detector.update(float(error))  # type: ignore[no-untyped-call]
        if detector.drift_detected:
            changes.append(i)
    return changes
