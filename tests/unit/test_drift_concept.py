"""Concept drift: windowed metrics, ADWIN on the error stream, CBPE-style estimates, and the
concept monitor on late labels."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from samdops.drift.concept import (
    Baseline,
    adwin_changes,
    calibration_line,
    estimated_window,
    expected_auroc,
    labelled_window,
)
from samdops.drift.concept_monitor import ConceptMonitor, ConceptResult, clustered_auroc
from samdops.errors import ConfigError, DataContractError
from samdops.hospital import FEATURES, get_scenario, simulate_hospital
from samdops.hospital.columns import LABEL, LABEL_ARRIVAL, STAY_ID, TIME
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


def test_clustered_auroc_counts_a_stays_hours_once() -> None:
    y, score = _calibrated(2_000, 5)
    area, se = clustered_auroc(y, score, np.arange(len(y)))
    assert area == pytest.approx(auroc(y, score))
    hours_y, hours_score = np.repeat(y, 5), np.repeat(score, 5)
    stays = np.repeat(np.arange(len(y)), 5)
    _, se_as_hours = clustered_auroc(hours_y, hours_score, np.arange(len(hours_y)))
    _, se_as_stays = clustered_auroc(hours_y, hours_score, stays)
    assert se_as_stays == pytest.approx(se, rel=0.1)  # five copies carry no new information
    assert se_as_hours == pytest.approx(se / np.sqrt(5), rel=0.1)


def _risk(frame: pd.DataFrame) -> np.ndarray:  # type: ignore[type-arg]
    """A crude sepsis risk from charted signs (the tests need no trained model)."""
    hr = frame["HR"].fillna(84.0).to_numpy()
    resp = frame["Resp"].fillna(18.5).to_numpy()
    logit = -4.0 + 0.12 * (hr - 84.0) + 0.3 * (resp - 18.5)
    return np.asarray(1.0 / (1.0 + np.exp(-logit)))


@functools.cache
def _monitor_reference() -> pd.DataFrame:
    frame = simulate_hospital(get_scenario("no_drift"), days=30, seed=60, beds=150).frame
    return frame.assign(score=_risk(frame))


def _monitor(pool_days: int = 7) -> ConceptMonitor:
    reference = _monitor_reference()
    y = reference[LABEL].to_numpy()
    base = Baseline(auroc=auroc(y, reference["score"].to_numpy()), alert_rate=0.05, threshold=0.5)
    return ConceptMonitor(
        base,
        FEATURES,
        id_column=STAY_ID,
        label_column=LABEL,
        pool_days=pool_days,
    ).fit(reference)


def _daily(monitor: ConceptMonitor, name: str, seed: int, days: int = 12) -> list[ConceptResult]:
    frame = simulate_hospital(get_scenario(name), days=days, seed=seed, beds=150).frame
    frame = frame[frame[TIME] >= 24].assign(score=lambda f: _risk(f))
    arrival = frame[LABEL_ARRIVAL].to_numpy() // 24
    return [monitor.update(frame[arrival == day]) for day in range(days)]


def test_concept_monitor_is_quiet_on_the_control() -> None:
    results = _daily(_monitor(), "no_drift", 61)
    assert not any(r.is_drift for r in results)
    assert all(r.as_dict()["estimated"] is False for r in results)


def test_blunted_tachycardia_is_named_from_septic_stays() -> None:
    results = _daily(_monitor(), "concept_treatment", 62)
    assert not any(r.is_drift for r in results[:4])  # labels of post-onset hours from day 4
    hr = [t for r in results for t in r.tests if t.name == "HR" and t.is_drift]
    assert hr and hr[0].test == "MannWhitneyU (septic stays)"
    assert hr[0].finding is not None and "HR in septic hours" in hr[0].finding


def test_prevalence_change_raises_the_label_rate() -> None:
    # Sepsis triples in stays admitted from day 3; their septic labels arrive from day 5.
    results = _daily(_monitor(), "prevalence", 63)
    assert [r.is_drift for r in results] == [False] * 6 + [True] * 6
    assert [r.blamed for r in results[6:]] == ["label rate"] * 6
    rate = results[6].tests[1]
    assert (rate.name, rate.test) == ("label rate", "Poisson CUSUM (stays turned septic)")
    assert rate.statistic == pytest.approx(5.703, abs=0.001) and rate.p_value < 0.001
    assert rate.finding == (
        "label rate: 23 stays turned septic against 231 new stays with labels over the last "
        "4 window(s) (10.0%; the reference's 4.0% of stays): sepsis became more common"
    )
    assert all(
        abs(next(t for t in r.tests if t.name == "label rate").statistic) < 2.0 for r in results[:6]
    )


def test_concept_monitor_memory_is_bounded_and_needs_a_fit() -> None:
    monitor = _monitor(pool_days=3)
    _daily(monitor, "no_drift", 64, days=8)
    assert len(monitor._septic) == 3
    assert set(monitor._rate.last_seen.values()) == {6, 7, 8}  # stays of the last 3 windows
    assert monitor._rate.septic <= set(monitor._rate.last_seen)
    unfitted = ConceptMonitor(BASELINE, ["HR"], id_column=STAY_ID, label_column=LABEL)
    with pytest.raises(ConfigError, match="fitted on a reference before update"):
        unfitted.update(pd.DataFrame())
    with pytest.raises(DataContractError, match="arrived labels lacks column"):
        _monitor().update(pd.DataFrame({STAY_ID: [1], LABEL: [0]}))
    with pytest.raises(ConfigError, match="pool_days must be at least 1; got 0"):
        ConceptMonitor(BASELINE, ["HR"], id_column=STAY_ID, label_column=LABEL, pool_days=0)
