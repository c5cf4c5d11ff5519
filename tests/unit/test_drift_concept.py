"""Concept drift: windowed metrics, ADWIN on the error stream, CBPE-style estimates."""

from __future__ import annotations

import numpy as np
import pytest

from samdops.drift.concept import (
    Baseline,
    adwin_changes,
    calibration_line,
    estimated_window,
    expected_auroc,
    labelled_window,
)
from samdops.metrics import auroc

BASELINE = Baseline(auroc=0.85, alert_rate=0.1, threshold=0.5)


def _calibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    score = rng.beta(0.6, 3.0, n)
    return (rng.uniform(size=n) < score).astype(int), score


def test_expected_auroc_matches_real_auroc_when_calibrated() -> None:
    y, score = _calibrated(20_000, 1)
    assert expected_auroc(score) == pytest.approx(auroc(y, score), abs=0.01)


def test_calibration_line_is_identity_when_calibrated() -> None:
    y, score = _calibrated(20_000, 2)
    slope, intercept = calibration_line(y, score)
    assert slope == pytest.approx(1.0, abs=0.1) and intercept == pytest.approx(0.0, abs=0.1)


def test_labelled_window_flags_performance_drop_and_estimate_is_marked() -> None:
    y, score = _calibrated(5_000, 3)
    good = labelled_window(y, score, Baseline(auroc=0.75, alert_rate=0.1, threshold=0.5))
    assert not good["is_drift"] and good["estimated"] is False and good["ppv"] is not None
    shuffled = labelled_window(np.random.default_rng(0).permutation(y), score, BASELINE)
    assert shuffled["is_drift"] and shuffled["auroc"] < 0.6
    estimate = estimated_window(score, BASELINE)
    assert estimate["estimated"] is True and "calibration_slope" not in estimate


def test_adwin_detects_a_change_in_the_error_stream() -> None:
    y, score = _calibrated(4_000, 4)
    flipped = np.concatenate([y[:2000], 1 - y[2000:]])
    assert adwin_changes(y, score) == []
    changes = adwin_changes(flipped, score)
    assert changes and 2000 <= changes[0] < 2600
