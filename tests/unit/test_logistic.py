"""The comparator's logistic regression reaches scikit-learn's optimum (run to a tight
tolerance), keeps separable classes finite, and says how to fix a fit that cannot converge."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from samdops.errors import ConfigError
from samdops.training.logistic import fit_logistic


@pytest.mark.parametrize("c", [0.01, 1.0, 1e4])
def test_the_optimum_of_scikit_learns_objective(c: float) -> None:
    rng = np.random.default_rng(11)
    for _ in range(10):
        n, p = int(rng.integers(40, 2000)), int(rng.integers(1, 12))
        x = rng.normal(size=(n, p)) * rng.uniform(0.5, 3, p)
        truth = rng.normal(size=p)
        y = (rng.random(n) < 1 / (1 + np.exp(-(x @ truth - 0.5)))).astype(int)
        tight = LogisticRegression(C=c, tol=1e-12, max_iter=100_000).fit(x, y)
        coef, intercept = fit_logistic(x, y, ridge=1 / c)
        assert coef == pytest.approx(tight.coef_[0], abs=1e-6)
        assert intercept == pytest.approx(tight.intercept_[0], abs=1e-6)


def test_same_data_same_numbers() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(500, 5)), rng.integers(0, 2, 500)
    first, again = fit_logistic(x, y, ridge=1.0), fit_logistic(x, y, ridge=1.0)
    assert first[0].tobytes() == again[0].tobytes() and first[1] == again[1]


def test_separable_classes_stay_finite() -> None:
    x = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    coef, intercept = fit_logistic(x, np.array([0, 0, 1, 1]), ridge=1e-6)
    assert np.all(np.isfinite(coef)) and coef[0] > 5 and np.isfinite(intercept)


def test_a_fit_that_cannot_converge_in_time_says_what_to_change() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(200, 3)), rng.integers(0, 2, 200)
    with pytest.raises(ConfigError) as info:
        fit_logistic(x, y, ridge=1.0, max_iter=1)
    assert str(info.value) == (
        "logistic regression did not converge in 1 Newton steps; raise "
        "model.logistic_regression.max_iter or check the inputs for extreme values"
    )
