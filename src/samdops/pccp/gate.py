"""The PCCP gate: is a retrained candidate inside the plan, and does it meet it? (PCCP-02..04)

Checks, each with its numbers:

1. ``scope``: the change is one of the plan's modification types. The feature set, label, data
   contract and model family equal the plan's fixed design, every parameter the plan bounds is
   inside its bounds, and every parameter that changed since the released model is one the
   plan lets vary. A failure here means the change needs a new regulatory submission.
2. ``data``: the training and test sets are at least as large as the plan requires.
3. ``test-independence``: the test set's digest was registered before training started, and no
   row of the test set is also a row of the training set.
4. ``acceptance``: every criterion of the plan holds, overall and in each subgroup.
5. ``non-inferiority``: on the same test set (as model inputs: through the config's feature
   transform, if it names one), a paired bootstrap CI of (candidate - released) has its lower
   bound above ``-margin``.

Outcome: ``outside-plan`` if check 1 fails, else ``rejected`` if any check fails, else
``candidate`` (awaiting the signatures the plan requires).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from samdops.config import TrainingConfig
from samdops.pccp.plan import Plan
from samdops.training import metrics as m
from samdops.training.evaluate import GroupMetrics, apply_criteria
from samdops.training.models import ModelFile

OUTSIDE_PLAN = "outside-plan"
REJECTED = "rejected"
CANDIDATE = "candidate"
_IGNORED = ("data.path", "data.sha256", "description", "evaluation.acceptance")


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    values: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail, **self.values}


@dataclass(frozen=True)
class GateDecision:
    modification: str
    checks: tuple[Check, ...]

    @property
    def outcome(self) -> str:
        if not self.checks[0].passed:
            return OUTSIDE_PLAN
        return CANDIDATE if all(c.passed for c in self.checks) else REJECTED

    @property
    def reasons(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.passed]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): value}


def _changes(released: TrainingConfig, candidate: TrainingConfig) -> dict[str, tuple[Any, Any]]:
    old = _flatten(released.model_dump(mode="json"))
    new = _flatten(candidate.model_dump(mode="json"))
    keys = sorted(set(old) | set(new))
    return {
        k: (old.get(k), new.get(k))
        for k in keys
        if old.get(k) != new.get(k) and not k.startswith(_IGNORED)
    }


def check_scope(
    plan: Plan, released: TrainingConfig, candidate: TrainingConfig
) -> tuple[str, Check]:
    """Check 1: which modification this is, and whether the plan allows it."""
    problems: list[str] = []
    fixed = plan.fixed
    if candidate.name != plan.model:
        problems.append(f"the plan governs {plan.model}, not {candidate.name}")
    if candidate.contract.feature_names != fixed.features:
        added = sorted(set(candidate.contract.feature_names) - set(fixed.features))
        removed = sorted(set(fixed.features) - set(candidate.contract.feature_names))
        problems.append(f"the feature set changed (added {added}, removed {removed})")
    if candidate.contract.label != fixed.label:
        problems.append(f"the label changed to {candidate.contract.label!r}")
    contract = f"{candidate.contract.name}@{candidate.contract.version}"
    if contract != fixed.contract:
        problems.append(f"the data contract is {contract}, the plan fixes {fixed.contract}")
    if candidate.model.family != fixed.model_family:
        problems.append(
            f"the model family is {candidate.model.family}, the plan fixes {fixed.model_family}"
        )
    changes = _changes(released, candidate)
    values = _flatten(candidate.model_dump(mode="json"))
    bounds = plan.retraining.parameter_bounds
    for path, bound in sorted(bounds.items()):
        value = values.get(path)
        if not isinstance(value, int | float) or not bound.min <= value <= bound.max:
            problems.append(
                f"{path} = {value} is outside the plan's bounds [{bound.min:g}, {bound.max:g}]"
            )
    for path, (old, new) in changes.items():
        if path not in bounds and not any(p.startswith("the feature set") for p in problems):
            problems.append(
                f"{path} changed from {old!r} to {new!r}, which the plan does not let vary"
            )
    new_data = released.data.sha256 != candidate.data.sha256
    only_threshold = set(changes) <= {"evaluation.threshold"} and not new_data
    modification = "recalibrate-threshold" if only_threshold and changes else "retrain-new-data"
    if not plan.allows(modification):
        problems.append(f"{modification} is not a modification type of the plan")
    if problems:
        detail = "; ".join(problems) + " - needs a new regulatory submission"
    else:
        detail = f"{modification} within the plan"
    changed = {k: {"from": a, "to": b} for k, (a, b) in changes.items()}
    return modification, Check("scope", not problems, detail, {"changes": changed})


def check_data(plan: Plan, train_rows: int, test_rows: int) -> Check:
    rules = plan.data_management
    problems = []
    if train_rows < rules.min_train_rows:
        problems.append(f"{train_rows} training rows, the plan needs {rules.min_train_rows}")
    if test_rows < rules.min_test_rows:
        problems.append(f"{test_rows} test rows, the plan needs {rules.min_test_rows}")
    detail = "; ".join(problems) or f"{train_rows} training and {test_rows} test rows"
    return Check("data", not problems, detail, {"train_rows": train_rows, "test_rows": test_rows})


def _row_hashes(frame: pd.DataFrame) -> set[str]:
    text = frame.astype("float64").round(9).to_csv(index=False, header=False, na_rep="NA")
    return {hashlib.sha256(line.encode()).hexdigest() for line in text.splitlines()}


def check_independence(
    train: pd.DataFrame, test: pd.DataFrame, test_registered_at: str | None, trained_at: str
) -> Check:
    """Check 3: test digest registered before training, and no test row in the training set."""
    overlap = len(_row_hashes(train) & _row_hashes(test))
    problems = []
    if test_registered_at is None:
        problems.append("the test set's digest was never registered")
    elif test_registered_at > trained_at:
        problems.append(
            f"the test set was registered at {test_registered_at}, after training "
            f"started at {trained_at}"
        )
    if overlap:
        problems.append(f"{overlap} test row(s) also appear in the training data")
    detail = "; ".join(problems) or (
        f"test set registered at {test_registered_at}, before training at {trained_at}; "
        "no overlapping rows"
    )
    values = {
        "overlapping_rows": overlap,
        "test_registered_at": test_registered_at,
        "trained_at": trained_at,
    }
    return Check("test-independence", not problems, detail, values)


def _groups(evaluation: dict[str, Any]) -> tuple[GroupMetrics, tuple[GroupMetrics, ...]]:
    def group(data: dict[str, Any]) -> GroupMetrics:
        estimates = {
            k: m.Estimate(
                *(math.nan if v[s] is None else v[s] for s in ("point", "ci_low", "ci_high"))
            )
            for k, v in data["metrics"].items()
        }
        return GroupMetrics(data["name"], data["size"], data["positives"], estimates)

    return group(evaluation["overall"]), tuple(group(g) for g in evaluation["subgroups"])


def check_acceptance(plan: Plan, evaluation: dict[str, Any]) -> Check:
    overall, subgroups = _groups(evaluation)
    results = apply_criteria(plan.performance.criteria, overall, subgroups)
    failed = [r for r in results if r.passed is False]
    detail = "; ".join(f"{r.criterion} failed in {r.group} ({r.value})" for r in failed) or (
        f"all {len(results)} criterion results hold"
    )
    return Check("acceptance", not failed, detail, {"criteria": [r.as_dict() for r in results]})


def check_non_inferiority(plan: Plan, y: Any, candidate: Any, released: Any) -> Check:
    """Check 5: paired, stratified bootstrap of the metric difference on the same test set."""
    rule = plan.performance.non_inferiority
    fn = m.auroc if rule.metric == "auroc" else m.auprc
    y = np.asarray(y)
    rng = np.random.default_rng(rule.seed)
    classes = [np.flatnonzero(y == c) for c in (0, 1)]
    diffs = []
    for _ in range(rule.n_resamples):
        idx = np.concatenate([rng.choice(c, size=len(c)) for c in classes])
        diffs.append(fn(y[idx], candidate[idx]) - fn(y[idx], released[idx]))
    tail = (1 - rule.confidence) / 2 * 100
    low, high = (float(v) for v in np.percentile(diffs, [tail, 100 - tail]))
    point = fn(y, candidate) - fn(y, released)
    passed = low > -rule.margin
    detail = (
        f"{rule.metric} difference {point:+.4f} ({rule.confidence:.0%} CI {low:+.4f} to "
        f"{high:+.4f}); lower bound {'above' if passed else 'at or below'} -{rule.margin}"
    )
    values = {
        "metric": rule.metric,
        "difference": round(point, 6),
        "ci_low": round(low, 6),
        "ci_high": round(high, 6),
        "margin": rule.margin,
        "candidate": round(fn(y, candidate), 6),
        "released": round(fn(y, released), 6),
    }
    return Check("non-inferiority", passed, detail, values)


def decide(
    plan: Plan,
    *,
    released_config: TrainingConfig,
    released_model: ModelFile,
    candidate_config: TrainingConfig,
    candidate_model: ModelFile,
    train: pd.DataFrame,
    test: pd.DataFrame,
    evaluation: dict[str, Any],
    test_registered_at: str | None,
    trained_at: str,
) -> GateDecision:
    """Run the five checks in order and return the decision."""
    modification, scope = check_scope(plan, released_config, candidate_config)
    label = candidate_config.contract.label
    y = test[label].to_numpy(dtype="int64")
    if scope.passed:  # so both models read the same inputs: the same feature transform, if any
        transform = candidate_config.transform()
        inputs = test if transform is None else transform.apply(test)
        inferiority = check_non_inferiority(
            plan, y, candidate_model.predict_proba(inputs), released_model.predict_proba(inputs)
        )
    else:  # the released model may not even accept the candidate's inputs
        inferiority = Check(
            "non-inferiority", False, "not assessed: the change is outside the plan", {}
        )
    return GateDecision(
        modification,
        (
            scope,
            check_data(plan, len(train), len(test)),
            check_independence(train, test, test_registered_at, trained_at),
            check_acceptance(plan, evaluation),
            inferiority,
        ),
    )
