"""The numpy metrics agree with scikit-learn; bootstrap CIs are seeded and sensible."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from samdops.training import metrics as m


@pytest.fixture
def scored() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    score = np.clip(0.3 * y + rng.normal(0.35, 0.2, 300), 0, 1)
    score[:40] = np.round(score[:40], 1)  # ties
    return y, score


def test_auroc_and_auprc_match_sklearn(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, score = scored
    assert m.auroc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert m.auprc(y, score) == pytest.approx(average_precision_score(y, score), abs=1e-12)
    assert m.brier(y, score) == pytest.approx(brier_score_loss(y, score), abs=1e-12)


def test_undefined_metrics_are_nan() -> None:
    y = np.zeros(5, dtype=int)
    assert np.isnan(m.auroc(y, np.linspace(0, 1, 5)))
    assert np.isnan(m.auprc(y, np.linspace(0, 1, 5)))
    assert np.isnan(m.sensitivity(y, np.linspace(0, 1, 5), 0.5))


def test_ece_of_perfect_calibration_is_small_and_of_bad_is_large() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, 20000)
    y = (rng.uniform(0, 1, 20000) < p).astype(int)
    assert m.ece(y, p) < 0.02
    assert m.ece(y, np.clip(p + 0.3, 0, 1)) > 0.2


def test_sensitivity_specificity_at_threshold() -> None:
    y = np.array([1, 1, 1, 0, 0])
    s = np.array([0.9, 0.6, 0.2, 0.7, 0.1])
    assert m.sensitivity(y, s, 0.5) == pytest.approx(2 / 3)
    assert m.specificity(y, s, 0.5) == pytest.approx(1 / 2)


def test_bootstrap_is_seeded_and_brackets_the_point(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, score = scored
    fns = {"auroc": m.auroc, "brier": m.brier}
    a = m.bootstrap(y, score, fns, n_resamples=200, confidence=0.95, seed=3)
    b = m.bootstrap(y, score, fns, n_resamples=200, confidence=0.95, seed=3)
    c = m.bootstrap(y, score, fns, n_resamples=200, confidence=0.95, seed=4)
    assert a == b
    assert a != c
    for est in a.values():
        assert est.ci_low <= est.point <= est.ci_high
        assert est.ci_high - est.ci_low > 0
