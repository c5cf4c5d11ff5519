"""Acceptance criteria decide the gate; subgroups too small to judge are recorded, not failed."""

from __future__ import annotations

from samdops.config import Criterion
from samdops.training.evaluate import GroupMetrics, apply_criteria
from samdops.training.metrics import Estimate


def _group(name: str, size: int, positives: int, auroc: Estimate) -> GroupMetrics:
    return GroupMetrics(name, size, positives, {"auroc": auroc})


OVERALL = _group("overall", 154, 54, Estimate(0.84, 0.78, 0.90))


def test_criterion_on_ci_low_passes_and_fails() -> None:
    ok = Criterion(metric="auroc", statistic="ci_low", min=0.75)
    bad = Criterion(metric="auroc", statistic="ci_low", min=0.80)
    results = apply_criteria((ok, bad), OVERALL, ())
    assert [(r.criterion, r.value, r.passed) for r in results] == [
        ("auroc ci_low >= 0.75", 0.78, True),
        ("auroc ci_low >= 0.8", 0.78, False),
    ]


def test_upper_bound_criterion() -> None:
    results = apply_criteria((Criterion(metric="auroc", max=0.5),), OVERALL, ())
    assert results[0].passed is False


def test_each_subgroup_is_judged_unless_too_small() -> None:
    crit = Criterion(metric="auroc", min=0.7, scope="each_subgroup", min_subgroup_size=25)
    groups = (
        _group("age=young", 80, 20, Estimate(0.9, 0.8, 0.95)),
        _group("age=old", 40, 15, Estimate(0.6, 0.4, 0.8)),
        _group("age=tiny", 10, 4, Estimate(0.2, 0.0, 0.5)),
        _group("age=onecls", 30, 0, Estimate(float("nan"), float("nan"), float("nan"))),
    )
    results = apply_criteria((crit,), OVERALL, groups)
    assert [(r.group, r.passed) for r in results] == [
        ("age=young", True),
        ("age=old", False),
        ("age=tiny", None),
        ("age=onecls", None),
    ]
    assert results[2].note == "not evaluable: too few rows (n=10, positives=4)"
    assert results[3].note == "not evaluable: both classes are not present (n=30, positives=0)"


def test_nan_value_fails_the_criterion() -> None:
    nan = _group("overall", 10, 0, Estimate(float("nan"), float("nan"), float("nan")))
    results = apply_criteria((Criterion(metric="auroc", min=0.5),), nan, ())
    assert results[0].passed is False and results[0].value is None
