"""Evaluation on the held-out test set: metrics with CIs, calibration, subgroups and the gate."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samdops._types import Array
from samdops.config import Criterion, EvaluationConfig, SubgroupSpec
from samdops.digest import sha256_file
from samdops.features.transforms import Transform
from samdops.jsonsafe import json_safe
from samdops.training import metrics as m
from samdops.training.models import ModelFile, load_model


@dataclass(frozen=True)
class GroupMetrics:
    """Metrics of one subgroup of the test set (or of all of it)."""

    name: str
    size: int
    positives: int
    metrics: dict[str, m.Estimate]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "size": self.size,
            "positives": self.positives,
            "metrics": {k: v.as_dict() for k, v in self.metrics.items()},
        }


@dataclass(frozen=True)
class CriterionResult:
    """One acceptance criterion applied to one group; ``passed`` is None when not evaluable."""

    criterion: str
    group: str
    value: float | None
    passed: bool | None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class Evaluation:
    """Everything the evaluate step found, ready to be serialised and registered."""

    model_sha256: str
    test_sha256: str
    family: str
    threshold: float
    overall: GroupMetrics
    comparator: GroupMetrics
    subgroups: tuple[GroupMetrics, ...]
    reliability: dict[str, list[float | None]]
    roc_curve: dict[str, list[float]]
    confusion_matrix: list[list[int]]
    criteria: tuple[CriterionResult, ...]
    cross_validation: tuple[dict[str, Any], ...]

    @property
    def gate_passed(self) -> bool:
        return all(c.passed is not False for c in self.criteria)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_sha256": self.model_sha256,
            "test_sha256": self.test_sha256,
            "family": self.family,
            "threshold": self.threshold,
            "overall": self.overall.as_dict(),
            "comparator": self.comparator.as_dict(),
            "subgroups": [g.as_dict() for g in self.subgroups],
            "reliability": self.reliability,
            "roc_curve": self.roc_curve,
            "confusion_matrix": self.confusion_matrix,
            "cross_validation": list(self.cross_validation),
            "gate": {
                "passed": self.gate_passed,
                "criteria": [c.as_dict() for c in self.criteria],
            },
        }


def _metric_fns(config: EvaluationConfig) -> dict[str, m.MetricFn]:
    every: dict[str, m.MetricFn] = {
        "auroc": m.auroc,
        "auprc": m.auprc,
        "brier": m.brier,
        "ece": partial(m.ece, bins=config.calibration_bins),
        "sensitivity": partial(m.sensitivity, threshold=config.threshold),
        "specificity": partial(m.specificity, threshold=config.threshold),
        "alert_rate": partial(m.alert_rate, threshold=config.threshold),
        "ppv": partial(m.ppv, threshold=config.threshold),
    }
    return {name: every[name] for name in config.metrics if name in every}


_CALIBRATION = ("calibration_slope", "calibration_intercept")


def _calibration(y: Array, score: Array) -> dict[str, m.Estimate]:
    """Logistic recalibration slope and intercept, as point estimates (no interval)."""
    from samdops.training.metrics import calibration_line

    both = 0 < int(y.sum()) < len(y)
    slope, intercept = calibration_line(y, score) if both else (math.nan, math.nan)
    nan = math.nan
    return {
        "calibration_slope": m.Estimate(slope, nan, nan),
        "calibration_intercept": m.Estimate(intercept, nan, nan),
    }


def _group(
    name: str, y: Array, score: Array, config: EvaluationConfig, groups: Array | None = None
) -> GroupMetrics:
    b = config.bootstrap
    estimates = m.bootstrap(
        y,
        score,
        _metric_fns(config),
        n_resamples=b.n_resamples,
        confidence=b.confidence,
        seed=b.seed,
        groups=groups,
    )
    if any(metric in config.metrics for metric in _CALIBRATION):
        calibration = _calibration(y, score)
        estimates.update({k: v for k, v in calibration.items() if k in config.metrics})
    ordered: dict[str, m.Estimate] = {metric: estimates[metric] for metric in config.metrics}
    return GroupMetrics(name=name, size=len(y), positives=int(y.sum()), metrics=ordered)


def subgroup_masks(frame: pd.DataFrame, spec: SubgroupSpec) -> dict[str, Array]:
    """Boolean row masks of each bin of ``spec`` (left-closed bins)."""
    values = frame[spec.column].to_numpy(dtype="float64")
    masks = {}
    for low, high, label in zip(spec.edges[:-1], spec.edges[1:], spec.labels, strict=True):
        masks[f"{spec.name}={label}"] = (values >= low) & (values < high)
    return masks


def apply_criteria(
    criteria: tuple[Criterion, ...], overall: GroupMetrics, subgroups: tuple[GroupMetrics, ...]
) -> tuple[CriterionResult, ...]:
    """Check every acceptance criterion; a subgroup too small to judge is recorded, not failed."""
    results = []
    for criterion in criteria:
        groups = (overall,) if criterion.scope == "overall" else subgroups
        for group in groups:
            too_small = group.size < criterion.min_subgroup_size
            single_class = group.positives in (0, group.size)
            if criterion.scope == "each_subgroup" and (too_small or single_class):
                why = "both classes are not present" if single_class else "too few rows"
                note = f"not evaluable: {why} (n={group.size}, positives={group.positives})"
                results.append(CriterionResult(criterion.describe(), group.name, None, None, note))
                continue
            value = group.metrics[criterion.metric].statistic(criterion.statistic)
            ok = math.isfinite(value) and (
                (criterion.min is None or value >= criterion.min)
                and (criterion.max is None or value <= criterion.max)
            )
            shown = json_safe(round(value, 6))
            results.append(CriterionResult(criterion.describe(), group.name, shown, ok))
    return tuple(results)


def evaluate(
    model_path: str | Path,
    comparator_path: str | Path,
    test_path: str | Path,
    label: str,
    config: EvaluationConfig,
    cross_validation: tuple[dict[str, Any], ...] = (),
    *,
    transform: Transform | None = None,
    group: str | None = None,
) -> Evaluation:
    """Evaluate the model (and the comparator) on the test set and apply the acceptance gate.

    ``transform`` turns the test rows into model inputs (subgroups still bin the raw columns);
    with ``group``, bootstrap intervals resample whole groups.
    """
    model: ModelFile = load_model(model_path)
    comparator = load_model(comparator_path)
    test = pd.read_parquet(test_path)
    inputs = test if transform is None else transform.apply(test)
    y = test[label].to_numpy(dtype="int64")
    ids = None if group is None else test[group].to_numpy()
    score = model.predict_proba(inputs)
    overall = _group("overall", y, score, config, ids)
    compared = _group(comparator.family, y, comparator.predict_proba(inputs), config, ids)
    groups = []
    for spec in config.subgroups:
        for name, mask in subgroup_masks(test, spec).items():
            groups.append(
                _group(name, y[mask], score[mask], config, None if ids is None else ids[mask])
            )
    subgroups = tuple(groups)
    predicted, observed, count = m.calibration_bins(y, score, config.calibration_bins)
    y_hat = score >= config.threshold
    tn = int(np.sum((y == 0) & ~y_hat))
    fp = int(np.sum((y == 0) & y_hat))
    fn = int(np.sum((y == 1) & ~y_hat))
    tp = int(np.sum((y == 1) & y_hat))
    return Evaluation(
        model_sha256=sha256_file(model_path),
        test_sha256=sha256_file(test_path),
        family=model.family,
        threshold=config.threshold,
        overall=overall,
        comparator=compared,
        subgroups=subgroups,
        reliability={
            "mean_predicted": json_safe([round(float(v), 6) for v in predicted]),
            "observed_rate": json_safe([round(float(v), 6) for v in observed]),
            "count": json_safe([round(float(v), 6) for v in count]),
        },
        roc_curve=_roc_curve(y, score),
        confusion_matrix=[[tn, fp], [fn, tp]],
        criteria=apply_criteria(config.acceptance, overall, subgroups),
        cross_validation=cross_validation,
    )


def _roc_curve(y: Array, score: Array) -> dict[str, list[float]]:
    fpr, tpr, thresholds = m.roc_points(y, score)
    thresholds = np.minimum(thresholds, 1.0)  # the first threshold is +inf
    return {
        "fpr": [round(float(v), 6) for v in fpr],
        "tpr": [round(float(v), 6) for v in tpr],
        "threshold": [round(float(v), 6) for v in thresholds],
    }
