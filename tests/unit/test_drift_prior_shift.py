"""The concept monitor's label-rate test: CUSUMs on the share of stays that turn septic."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from samdops.drift.concept import Baseline
from samdops.drift.concept_monitor import ConceptMonitor, ConceptResult, ConceptTest
from samdops.errors import ConfigError

BASELINE = Baseline(auroc=0.85, alert_rate=0.1, threshold=0.5)


def _stays(first: int, n: int, septic: int, hours: int = 2) -> pd.DataFrame:
    """``n`` stays numbered from ``first``, each ``hours`` labelled hours; the first ``septic``
    of them have a septic last hour."""
    stay = np.repeat(np.arange(first, first + n), hours)
    label = np.zeros(n * hours, dtype=int)
    label[np.arange(septic) * hours + hours - 1] = 1
    rng = np.random.default_rng(first)
    return pd.DataFrame(
        {
            "stay": stay,
            "label": label,
            "HR": rng.normal(84.0, 10.0, len(stay)),
            "score": 0.7 * label + rng.uniform(0.0, 0.2, len(stay)),
        }
    )


def _monitor(**kwargs: float) -> ConceptMonitor:
    """Fitted on 1,000 stays, 50 of them septic (5%, as in the simulated ICU): the CUSUMs
    compare with the Wilson bounds one standard error either side, 4.355% and 5.735%."""
    monitor = ConceptMonitor(BASELINE, ["HR"], id_column="stay", label_column="label", **kwargs)
    return monitor.fit(_stays(0, 1000, 50))


def _rate(result: ConceptResult) -> ConceptTest:
    return next(t for t in result.tests if t.name == "label rate")


def test_tripled_prevalence_is_named_as_the_label_rate() -> None:
    # 60 new stays a day, 9 of them septic where the reference has 3.
    monitor = _monitor()
    first = monitor.update(_stays(10_000, 60, 9))
    assert not first.is_drift and _rate(first).finding is None
    assert _rate(first).statistic == pytest.approx(9 * np.log(2) - 60 * 0.05735, abs=0.01)
    second = monitor.update(_stays(20_000, 60, 9))
    assert second.is_drift and second.blamed == "label rate"
    rate = _rate(second)
    assert rate.test == "Poisson CUSUM (stays turned positive)" and rate.is_drift
    assert rate.statistic == pytest.approx(2 * (9 * np.log(2) - 60 * 0.05735), abs=0.01)
    assert rate.p_value < 0.001
    assert rate.finding == (
        "label rate: 18 stays turned label=1 against 120 new stays with labels over the last "
        "2 window(s) (15.0%; the reference's 5.0% of stays): label=1 became more common"
    )


def test_fewer_septic_stays_alarm_too() -> None:
    monitor = _monitor()
    # A septic stay every other day where the reference has three a day.
    results = [monitor.update(_stays(10_000 * (w + 1), 60, w % 2)) for w in range(5)]
    assert [r.is_drift for r in results] == [False] * 4 + [True]
    rate = _rate(results[-1])
    assert results[-1].blamed == "label rate"
    assert rate.statistic == pytest.approx(2 * np.log(2) - 300 * 0.5 * 0.04355, abs=0.01)
    assert rate.finding == (
        "label rate: 2 stays turned label=1 against 300 new stays with labels over the last "
        "5 window(s) (0.7%; the reference's 5.0% of stays): label=1 became less common"
    )


def test_label_rate_is_quiet_without_drift() -> None:
    # Two months of days at the reference's share (3 septic stays of 60 expected a day).
    rng = np.random.default_rng(7)
    monitor = _monitor()
    results = [
        monitor.update(_stays(10_000 * (w + 1), 60, int(rng.binomial(60, 0.05)))) for w in range(60)
    ]
    assert not any(_rate(r).is_drift for r in results)
    assert all(_rate(r).finding is None for r in results)
    assert max(abs(_rate(r).statistic) for r in results) < 5.0


def test_a_stay_counts_once_however_many_windows_bring_its_hours() -> None:
    # 60 stays, 9 of them septic in every hour, arrive an hour a window over three windows:
    # that is 9 septic stays in 60, whatever the number of their septic hours.
    monitor = _monitor()
    stays = _stays(10_000, 60, 0, hours=3)
    stays.loc[stays["stay"] < 10_009, "label"] = 1
    hour = np.tile(np.arange(3), 60)
    results = [_rate(monitor.update(stays[hour == h])) for h in range(3)]
    assert not any(r.is_drift for r in results)
    once = 9 * np.log(2) - 60 * 0.05735
    assert [r.statistic for r in results] == pytest.approx([once] * 3, abs=0.01)


def test_label_rate_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match=re.escape("rate_ratio must be greater than 1; got 1.0")):
        _monitor(rate_ratio=1.0)
    with pytest.raises(ConfigError, match=re.escape("rate_h must be greater than 0; got 0.0")):
        _monitor(rate_h=0.0)
    with pytest.raises(ConfigError, match=re.escape("rate_margin must be at least 0; got -1.0")):
        _monitor(rate_margin=-1.0)
