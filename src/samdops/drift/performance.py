"""Concept drift of a scored window: measured where labels arrived, estimated where not.

Labels come late, as rows (stay id, hour, label, label-arrival hour). Window rows whose label has
arrived get AUROC, calibration slope/intercept, alert rate and PPV of alerts against the model's
validated baseline, plus ADWIN on their error stream in label-arrival order. Rows still without
a label get the CBPE-style estimate from the scores alone, marked ``"estimated": True``. The
metric functions are :mod:`samdops.drift.concept`'s.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from samdops._types import Array
from samdops.drift.concept import Baseline, adwin_changes, estimated_window, labelled_window
from samdops.errors import DriftInputError
from samdops.hospital.columns import LABEL, LABEL_ARRIVAL

LABEL_COLUMNS = (LABEL, LABEL_ARRIVAL)


class ValidationBaseline(Protocol):
    """The validated performance a model was released with (e.g. ``SepsisBaseline``)."""

    @property
    def auroc(self) -> float: ...
    @property
    def calibration_slope(self) -> float: ...
    @property
    def calibration_intercept(self) -> float: ...
    @property
    def alert_rate(self) -> float: ...
    @property
    def threshold(self) -> float: ...


class ScoringModel(Protocol):
    """A registered model as the monitor uses it: scores raw rows, knows its baseline."""

    @property
    def baseline(self) -> ValidationBaseline: ...

    def score(self, frame: pd.DataFrame) -> Array: ...


def baseline_dict(baseline: ValidationBaseline) -> dict[str, float | None]:
    ppv = getattr(baseline, "ppv", None)  # PPV of alerts on validation, when recorded
    return {
        "auroc": float(baseline.auroc),
        "calibration_slope": float(baseline.calibration_slope),
        "calibration_intercept": float(baseline.calibration_intercept),
        "alert_rate": float(baseline.alert_rate),
        "ppv": None if ppv is None else float(ppv),
        "threshold": float(baseline.threshold),
    }


def window_performance(
    window: pd.DataFrame,
    scores: Array,
    labels: pd.DataFrame | None,
    baseline: ValidationBaseline,
    *,
    id_column: str,
    time_column: str,
    max_auroc_drop: float = 0.05,
) -> dict[str, Any]:
    """Measured (labelled rows) and estimated (unlabelled rows) performance of one window."""
    limits = Baseline(
        auroc=float(baseline.auroc),
        alert_rate=float(baseline.alert_rate),
        threshold=float(baseline.threshold),
        max_auroc_drop=max_auroc_drop,
    )
    rows = pd.DataFrame(
        {
            id_column: window[id_column].to_numpy(),
            time_column: window[time_column].to_numpy(),
            "score": np.asarray(scores, dtype=float),
        }
    )
    rows = rows[np.isfinite(rows["score"].to_numpy())]
    if labels is not None:
        absent = [c for c in (id_column, time_column, *LABEL_COLUMNS) if c not in labels.columns]
        if absent:
            raise DriftInputError(f"labels lack column(s) {', '.join(absent)}")
        known = labels[[id_column, time_column, *LABEL_COLUMNS]].drop_duplicates(
            [id_column, time_column], keep="last"
        )
        rows = rows.merge(known, on=[id_column, time_column], how="left")
    else:
        rows = rows.assign(**{LABEL: np.nan, LABEL_ARRIVAL: np.nan})
    has_label = np.isfinite(rows[LABEL].to_numpy(dtype=float))
    out: dict[str, Any] = {
        "baseline": {**baseline_dict(baseline), "max_auroc_drop": max_auroc_drop},
        "n_labelled": int(has_label.sum()),
        "n_unlabelled": int((~has_label).sum()),
        "labelled": None,
        "estimated": None,
    }
    if has_label.any():
        labelled = rows[has_label].sort_values([LABEL_ARRIVAL, id_column, time_column])
        y = labelled[LABEL].to_numpy(dtype=int)
        s = labelled["score"].to_numpy(dtype=float)
        measured = labelled_window(y, s, limits)
        measured["adwin_changes"] = adwin_changes(y.astype(float), s)
        measured["calibration_slope_change"] = measured["calibration_slope"] - float(
            baseline.calibration_slope
        )
        measured["calibration_intercept_change"] = measured["calibration_intercept"] - float(
            baseline.calibration_intercept
        )
        validated_ppv = out["baseline"]["ppv"]
        measured["ppv_change"] = (
            None
            if validated_ppv is None or measured["ppv"] is None
            else measured["ppv"] - validated_ppv
        )
        out["labelled"] = measured
    if (~has_label).any():
        out["estimated"] = estimated_window(rows.loc[~has_label, "score"].to_numpy(float), limits)
    out["is_drift"] = bool(
        (out["labelled"] or {}).get("is_drift") or (out["estimated"] or {}).get("is_drift")
    )
    return out
