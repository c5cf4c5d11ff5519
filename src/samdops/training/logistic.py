"""L2-penalised logistic regression by Newton's method: the comparator model's fit and the
calibration line, in plain numpy (scikit-learn costs a pipeline step half a second to import).

The objective is scikit-learn's ``LogisticRegression(C=1/ridge)``: the summed log-loss plus
``ridge / 2`` times the squared coefficients, the intercept unpenalised. Newton's method with step
halving reaches its optimum to machine precision (scikit-learn's lbfgs stops at a tolerance), so
the result depends on the data alone.
"""

from __future__ import annotations

import numpy as np

from samdops._types import Array
from samdops.errors import ConfigError

_STEP_TOLERANCE = 1e-10


def fit_logistic(x: Array, y: Array, *, ridge: float, max_iter: int = 100) -> tuple[Array, float]:
    """Coefficients (one per column of ``x``) and intercept of the penalised fit of ``y``."""
    design = np.column_stack([np.asarray(x, dtype="float64"), np.ones(len(x))])
    target = np.asarray(y, dtype="float64")
    penalty = np.r_[np.full(design.shape[1] - 1, ridge), 0.0]

    def loss(beta: Array) -> float:
        z = design @ beta
        return float(np.sum(np.logaddexp(0.0, z) - target * z) + 0.5 * penalty @ beta**2)

    beta = np.zeros(design.shape[1])
    current = loss(beta)
    for _ in range(max_iter):
        mu = 1.0 / (1.0 + np.exp(-(design @ beta)))
        gradient = design.T @ (mu - target) + penalty * beta
        hessian = (design * (mu * (1 - mu))[:, None]).T @ design + np.diag(penalty)
        hessian += 1e-12 * np.eye(len(beta))  # classes that separate: w -> 0 on every row
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while (trial := loss(beta - size * step)) > current and size > 1e-10:
            size /= 2
        beta, current = beta - size * step, trial
        if np.max(np.abs(size * step)) < _STEP_TOLERANCE:
            return beta[:-1], float(beta[-1])
    raise ConfigError(
        f"logistic regression did not converge in {max_iter} Newton steps; raise "
        "model.logistic_regression.max_iter or check the inputs for extreme values"
    )
