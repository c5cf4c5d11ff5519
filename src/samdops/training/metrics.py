"""Classification metrics in plain numpy, with seeded bootstrap confidence intervals.

Written for speed on small clinical test sets: each metric is a function of labels and scores,
and :func:`bootstrap` evaluates all of them on the same resamples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from samdops._types import Array
from samdops.jsonsafe import json_safe
from samdops.training.logistic import fit_logistic

MetricFn = Callable[[Array, Array], float]


def auroc(y: Array, score: Array) -> float:
    """Area under the ROC curve (Mann-Whitney U with tied ranks); NaN if a class is absent."""
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = average_ranks(score)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def average_ranks(values: Array) -> Array:
    """1-based ranks, ties sharing their mean rank (``scipy.stats.rankdata``'s default)."""
    order = np.argsort(values, kind="mergesort")
    starts = np.r_[0, np.flatnonzero(np.diff(values[order])) + 1]
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values), dtype="float64")
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def _counts_at_each_score(y: Array, score: Array) -> tuple[Array, Array, Array]:
    """True and false positives at or above each distinct score, highest score first, and
    those scores (scikit-learn's ``_binary_clf_curve``)."""
    order = np.argsort(score, kind="mergesort")[::-1]
    ordered = score[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(ordered)), len(y) - 1]
    tps = np.cumsum(y[order].astype("float64"))[last_of_tie]
    return tps, 1 + last_of_tie - tps, ordered[last_of_tie]


def roc_points(y: Array, score: Array) -> tuple[Array, Array, Array]:
    """False and true positive rates at each distinct score, highest first, without the points
    on a straight segment, after (0, 0) at threshold +inf (``sklearn.metrics.roc_curve``)."""
    tps, fps, thresholds = _counts_at_each_score(y, score)
    if len(fps) > 2:
        kept = np.flatnonzero(np.r_[True, (np.diff(fps, 2) != 0) | (np.diff(tps, 2) != 0), True])
        fps, tps, thresholds = fps[kept], tps[kept], thresholds[kept]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    return fps / fps[-1], tps / tps[-1], np.r_[np.inf, thresholds]


def calibration_line(y: Array, score: Array) -> tuple[float, float]:
    """Slope and intercept of the logistic recalibration of ``logit(score)`` on ``y`` (a ridge
    of 1e-6 on the slope, scikit-learn's ``C=1e6``, keeps it finite when the classes separate).
    """
    p = np.clip(np.asarray(score, dtype="float64"), 1e-6, 1 - 1e-6)
    slope, intercept = fit_logistic(np.log(p / (1 - p)).reshape(-1, 1), y, ridge=1e-6)
    return float(slope[0]), intercept


def auprc(y: Array, score: Array) -> float:
    """Average precision (step-wise area under the precision-recall curve, as scikit-learn)."""
    positives = int(y.sum())
    if positives == 0:
        return float("nan")
    tps, fps, _ = _counts_at_each_score(y, score)
    precision = tps / (tps + fps)
    recall = tps / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def brier(y: Array, score: Array) -> float:
    """Mean squared error of the predicted probabilities."""
    return float(np.mean((score - y) ** 2))


def calibration_bins(y: Array, score: Array, bins: int) -> tuple[Array, Array, Array]:
    """Equal-width bins on [0, 1]: (mean predicted, observed rate, count) per bin."""
    index = np.minimum((score * bins).astype(int), bins - 1)
    count = np.bincount(index, minlength=bins).astype("float64")
    predicted = np.bincount(index, weights=score, minlength=bins)
    observed = np.bincount(index, weights=y.astype("float64"), minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return predicted / count, observed / count, count


def ece(y: Array, score: Array, bins: int = 10) -> float:
    """Expected calibration error: count-weighted |mean predicted - observed rate| over bins."""
    predicted, observed, count = calibration_bins(y, score, bins)
    used = count > 0
    return float(np.sum(count[used] * np.abs(predicted[used] - observed[used])) / len(y))


def sensitivity(y: Array, score: Array, threshold: float) -> float:
    positives = y == 1
    if not positives.any():
        return float("nan")
    return float(np.mean(score[positives] >= threshold))


def specificity(y: Array, score: Array, threshold: float) -> float:
    negatives = y == 0
    if not negatives.any():
        return float("nan")
    return float(np.mean(score[negatives] < threshold))


def alert_rate(y: Array, score: Array, threshold: float) -> float:
    """Share of rows at or above the threshold (the rows that would raise an alert)."""
    del y
    return float(np.mean(score >= threshold)) if len(score) else float("nan")


def ppv(y: Array, score: Array, threshold: float) -> float:
    """Positive predictive value of the alerts; NaN when nothing alerts."""
    alerts = score >= threshold
    if not alerts.any():
        return float("nan")
    return float(np.mean(y[alerts]))


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a bootstrap percentile confidence interval."""

    point: float
    ci_low: float
    ci_high: float

    def statistic(self, name: str) -> float:
        return float(getattr(self, name))

    def as_dict(self) -> dict[str, float | None]:
        return {k: json_safe(round(float(v), 6)) for k, v in vars(self).items()}


def bootstrap(
    y: Array,
    score: Array,
    metrics: dict[str, MetricFn],
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
    groups: Array | None = None,
) -> dict[str, Estimate]:
    """Point estimates and percentile CIs for every metric, on shared stratified resamples.

    Resampling within each class keeps both classes in every resample, so AUROC is always
    defined; the interval is the central ``confidence`` mass of the resampled values. With
    ``groups`` (one id per row), whole groups are resampled instead of rows, within the groups
    that ever hold a positive and those that never do: rows of one group are not independent.
    """
    rng = np.random.default_rng(seed)
    draw = _row_sampler(y, rng) if groups is None else _group_sampler(y, groups, rng)
    values: dict[str, list[float]] = {name: [] for name in metrics}
    for _ in range(n_resamples):
        idx = draw()
        ys, ss = y[idx], score[idx]
        for name, fn in metrics.items():
            values[name].append(fn(ys, ss))
    tail = (1.0 - confidence) / 2.0 * 100.0
    out = {}
    for name, fn in metrics.items():
        samples = np.asarray(values[name])
        samples = samples[np.isfinite(samples)]
        low, high = (
            np.percentile(samples, [tail, 100.0 - tail]) if len(samples) else (np.nan, np.nan)
        )
        out[name] = Estimate(point=fn(y, score), ci_low=float(low), ci_high=float(high))
    return out


def _row_sampler(y: Array, rng: np.random.Generator) -> Callable[[], Array]:
    classes = [np.flatnonzero(y == c) for c in (0, 1) if (y == c).any()]

    def draw() -> Array:
        return np.concatenate([rng.choice(members, size=len(members)) for members in classes])

    return draw


def _group_sampler(y: Array, groups: Array, rng: np.random.Generator) -> Callable[[], Array]:
    _, inverse = np.unique(groups, return_inverse=True)
    order = np.argsort(inverse, kind="stable")  # rows of group g: order[start[g]:start[g]+n[g]]
    sizes = np.bincount(inverse)
    starts = np.cumsum(sizes) - sizes
    positive = np.bincount(inverse, weights=(y == 1).astype("float64")) > 0
    strata = [m for m in (np.flatnonzero(~positive), np.flatnonzero(positive)) if len(m)]

    def draw() -> Array:
        chosen = np.concatenate([rng.choice(members, size=len(members)) for members in strata])
        lengths = sizes[chosen]
        offsets = np.repeat(starts[chosen] - (np.cumsum(lengths) - lengths), lengths)
        result: Array = order[offsets + np.arange(int(lengths.sum()))]
        return result

    return draw
