"""Concept drift of a scored window: measured where labels arrived, estimated where not.

Labels come late, as rows (id, the hour when rows are hours of a stay, label, label-arrival
time). Window rows whose label has arrived get AUROC, calibration slope/intercept, alert rate
and PPV of alerts against the model's validated baseline, plus ADWIN on their error stream in
label-arrival order. Rows still without a label get the CBPE-style estimate from the scores
alone, marked ``"estimated": True``. The metric functions are :mod:`samdops.drift.concept`'s.
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
    """The validated performance a model was released with (e.g. ``ValidatedBaseline``)."""

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


def join_keys(id_column: str, time_column: str = "") -> list[str]:
    """The columns a label joins its scored row on: the id and, when rows are hours of a
    stay, the time column."""
    return [id_column, *([time_column] if time_column else [])]


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
    time_column: str = "",
    label_column: str = LABEL,
    max_auroc_drop: float = 0.05,
) -> dict[str, Any]:
    """Measured (labelled rows) and estimated (unlabelled rows) performance of one window.
    Labels join the window's rows on the id and, when rows are hours, the time column."""
    limits = Baseline(
        auroc=float(baseline.auroc),
        alert_rate=float(baseline.alert_rate),
        threshold=float(baseline.threshold),
        max_auroc_drop=max_auroc_drop,
    )
    keys = join_keys(id_column, time_column)
    rows = pd.DataFrame({k: window[k].to_numpy() for k in keys})
    rows["score"] = np.asarray(scores, dtype=float)
    rows = rows[np.isfinite(rows["score"].to_numpy())]
    if labels is not None:
        absent = [c for c in (*keys, label_column, LABEL_ARRIVAL) if c not in labels.columns]
        if absent:
            raise DriftInputError(f"labels lack column(s) {', '.join(absent)}")
        known = labels[[*keys, label_column, LABEL_ARRIVAL]].drop_duplicates(keys, keep="last")
        _check_labels(known[label_column], label_column)
        rows = rows.merge(known, on=keys, how="left")
    else:
        rows = rows.assign(**{label_column: np.nan, LABEL_ARRIVAL: np.nan})
    has_label = np.isfinite(rows[label_column].to_numpy(dtype=float))
    out: dict[str, Any] = {
        "baseline": {**baseline_dict(baseline), "max_auroc_drop": max_auroc_drop},
        "n_labelled": int(has_label.sum()),
        "n_unlabelled": int((~has_label).sum()),
        "labelled": None,
        "estimated": None,
    }
    if has_label.any():
        labelled = rows[has_label].sort_values([LABEL_ARRIVAL, *keys])
        y = labelled[label_column].to_numpy(dtype=int)
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


def _check_labels(values: pd.Series, column: str) -> None:
    """Arrived labels are 0 or 1 (missing: not arrived); anything else is refused."""
    numeric = pd.to_numeric(values, errors="coerce")
    bad = (numeric.isna() & values.notna()) | (numeric.notna() & ~numeric.isin([0, 1]))
    if bad.any():
        raise DriftInputError(
            f"labels column {column} must hold 0 or 1, but holds {values[bad].iloc[0]!r}"
        )
