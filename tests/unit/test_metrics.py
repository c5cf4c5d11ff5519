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


def test_ranks_roc_points_and_calibration_line_match_scipy_and_sklearn() -> None:
    """The plain-numpy versions that keep scipy.stats and scikit-learn out of the evaluate step
    (ties, rounded scores, tiny and large sets; separable classes stay finite)."""
    from scipy.stats import rankdata
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(2, 400))
        score = np.round(rng.random(n), int(rng.integers(1, 4)))  # many ties
        y = rng.integers(0, 2, n)
        assert np.array_equal(m.average_ranks(score), rankdata(score))
        if y.min() == y.max():
            continue
        for ours, theirs in zip(m.roc_points(y, score), roc_curve(y, score), strict=True):
            assert np.array_equal(ours, theirs)
    for _ in range(30):
        n = int(rng.integers(50, 3000))
        score = rng.beta(1, 8, n)
        logit = np.log(score / (1 - score))
        y = (rng.random(n) < 1 / (1 + np.exp(-(1.3 * logit + 0.4)))).astype(int)
        fit = LogisticRegression(C=1e6, tol=1e-12, max_iter=10_000).fit(logit.reshape(-1, 1), y)
        slope, intercept = m.calibration_line(y, score)
        assert slope == pytest.approx(fit.coef_[0, 0], abs=1e-6)
        assert intercept == pytest.approx(fit.intercept_[0], abs=1e-6)
    slope, intercept = m.calibration_line(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert np.isfinite(slope) and slope > 5 and np.isfinite(intercept)
