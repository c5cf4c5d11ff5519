"""Correction for the number of tests: Bonferroni or Benjamini-Hochberg FDR."""

from __future__ import annotations

from typing import Literal

import numpy as np

from samdops._types import Array
from samdops.errors import ConfigError

Correction = Literal["bonferroni", "fdr"]


def reject(p_values: Array, alpha: float, correction: str) -> Array:
    """Which of ``p_values`` are significant at family level ``alpha`` (NaN never is)."""
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must be in (0, 1); got {alpha}")
    p = np.asarray(p_values, dtype=float)
    valid = np.isfinite(p)
    m = int(valid.sum())
    out = np.zeros(len(p), dtype=bool)
    if m == 0:
        return out
    if correction == "bonferroni":
        out[valid] = p[valid] <= alpha / m
        return out
    if correction == "fdr":
        idx = np.flatnonzero(valid)
        order = idx[np.argsort(p[idx])]
        thresholds = alpha * np.arange(1, m + 1) / m
        below = np.flatnonzero(p[order] <= thresholds)
        if below.size:
            out[order[: below[-1] + 1]] = True
        return out
    raise ConfigError(f"correction must be 'bonferroni' or 'fdr'; got {correction!r}")
