"""Concept drift: windowed metrics, ADWIN on the error stream, CBPE-style estimates, and the
concept monitor on late labels."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from samdops.drift.concept import (
    Baseline,
    adwin_changes,
    estimated_window,
    expected_auroc,
    labelled_window,
)
from samdops.drift.concept_monitor import ConceptMonitor, ConceptResult, clustered_auroc
from samdops.errors import ConfigError, DataContractError
from samdops.hospital import FEATURES, get_scenario, simulate_hospital
from samdops.hospital.columns import LABEL, LABEL_ARRIVAL, STAY_ID, TIME
from samdops.training.metrics import auroc, calibration_line

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
    # Labels of post-onset hours arrive from day 4; the AUROC's CUSUM sees the first of them.
    assert [r.blamed for r in results] == [None] * 4 + ["AUROC"] * 2 + ["HR"] * 6
    hr = next(t for t in results[6].tests if t.name == "HR")
    assert hr.test == "MannWhitneyU (rise into SepsisLabel=1, per stay)" and hr.is_drift
    assert hr.p_value == pytest.approx(3.387e-4, rel=0.01)
    assert hr.finding == (
        "HR in SepsisLabel=1 hours: median rise +1.33 per stay over its earlier hours "
        "(reference's +24.6); the relation of the features to SepsisLabel changed"
    )


def _stays(first: int, n: int, rise: float, *, before: int = 12, seed: int = 0) -> pd.DataFrame:
    """``n`` septic stays numbered from ``first``: ``before`` hours, then 12 septic hours whose
    HR is ``rise`` above the stay's own level (which varies between stays by 12 beats/min);
    and as many stays that never turn septic."""
    rng = np.random.default_rng(seed)
    hours = before + 12
    stay = np.repeat(np.arange(first, first + 2 * n), hours)
    label = np.tile(np.r_[np.zeros(before, dtype=int), np.ones(12, dtype=int)], 2 * n)
    label[n * hours :] = 0
    level = rng.normal(84.0, 12.0, 2 * n)[stay - first]
    hr = level + rise * label + rng.normal(0.0, 6.0, len(stay))
    return pd.DataFrame(
        {
            "stay": stay,
            "label": label,
            "HR": hr,
            "Age": rng.integers(18, 90, 2 * n)[stay - first].astype(float),
            "score": 0.3 * label + rng.uniform(0.0, 0.5, len(stay)),
        }
    )


def _rise_monitor(**kwargs: int) -> ConceptMonitor:
    monitor = ConceptMonitor(
        BASELINE, ["HR", "Age"], id_column="stay", label_column="label", **kwargs
    )
    return monitor.fit(_stays(0, 90, 22.0, seed=1))


def test_a_blunted_rise_alarms_where_the_septic_level_would_not() -> None:
    # Septic stays from patients 22 beats/min faster at rest, whose HR no longer rises: their
    # septic hours have the reference's level, but not its rise.
    blunted = _stays(10_000, 8, 0.0, seed=2).assign(HR=lambda f: f["HR"] + 22.0)
    result = _rise_monitor().update(blunted)
    assert result.is_drift and result.blamed == "HR"
    assert [t.name for t in result.tests] == ["AUROC", "label rate", "HR"]  # Age never rises
    hr = result.tests[2]
    assert hr.test == "MannWhitneyU (rise into label=1, per stay)" and hr.p_value < 1e-5
    assert hr.finding == (
        "HR in label=1 hours: median rise -0.022 per stay over its earlier hours (reference's "
        "+21.9); the relation of the features to label changed"
    )
    # The septic stays' mean HR (what this test used to compare) looks the same.
    level = blunted[blunted["label"] == 1].groupby("stay")["HR"].mean()
    reference = _stays(0, 90, 22.0, seed=1)
    ref_level = reference[reference["label"] == 1].groupby("stay")["HR"].mean()
    assert stats.mannwhitneyu(ref_level, level).pvalue == pytest.approx(0.736, abs=0.001)


def test_rise_is_quiet_without_drift_and_needs_hours_before_sepsis() -> None:
    monitor = _rise_monitor()
    quiet = [monitor.update(_stays(10_000 * w, 8, 22.0, seed=w)) for w in range(1, 11)]
    assert not any(r.is_drift for r in quiet)
    assert all(next(t for t in r.tests if t.name == "HR").p_value > 0.01 for r in quiet)
    # Stays known only from their last hours before sepsis have no rise to compare.
    short = _rise_monitor(rise_min_hours=6).update(_stays(10_000, 8, 0.0, before=5, seed=2))
    assert [t.name for t in short.tests] == ["AUROC", "label rate"] and not short.is_drift
    with pytest.raises(ConfigError, match="rise_min_hours must be at least 1; got 0"):
        ConceptMonitor(BASELINE, ["HR"], id_column=STAY_ID, label_column=LABEL, rise_min_hours=0)


def test_prevalence_change_raises_the_label_rate() -> None:
    # Sepsis triples in stays admitted from day 3; their septic labels arrive from day 5.
    results = _daily(_monitor(), "prevalence", 63)
    assert [r.is_drift for r in results] == [False] * 6 + [True] * 6
    assert [r.blamed for r in results[6:]] == ["label rate"] * 6
    rate = results[6].tests[1]
    assert (rate.name, rate.test) == ("label rate", "Poisson CUSUM (stays turned positive)")
    assert rate.statistic == pytest.approx(5.703, abs=0.001) and rate.p_value < 0.001
    assert rate.finding == (
        "label rate: 23 stays turned SepsisLabel=1 against 231 new stays with labels over the "
        "last 4 window(s) (10.0%; the reference's 4.0% of stays): SepsisLabel=1 became more "
        "common"
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
