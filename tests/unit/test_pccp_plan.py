"""The PCCP as a document, and the gate's checks as pure functions (PCCP-01..04)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from samdops.config import TrainingConfig
from samdops.errors import ConfigError
from samdops.pccp.gate import check_independence, check_non_inferiority, check_scope
from samdops.pccp.plan import Plan, load_plan
from samdops.pccp.report import change_html, change_markdown

PLAN_FILE = Path(__file__).resolve().parents[2] / "src" / "samdops" / "configs" / "pima-pccp.yaml"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(PLAN_FILE)


def _with(config: TrainingConfig, **changes: object) -> TrainingConfig:
    data = config.model_dump(mode="json")
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    return TrainingConfig.model_validate(data)


def test_plan_declares_all_sections(plan: Plan) -> None:
    assert plan.record_name == "pccp-pima-diabetes-onset"
    assert {m.type for m in plan.modifications} == {"retrain-new-data", "recalibrate-threshold"}
    assert plan.performance.non_inferiority.margin == 0.05
    assert plan.update_procedure.required_signatures == ("review", "approval")
    assert plan.data_management.test_set_independence is True


def test_invalid_plan_names_the_key(tmp_path: Path) -> None:
    raw = yaml.safe_load(PLAN_FILE.read_text())
    raw["performance"]["non_inferiority"]["margin"] = 0.9
    bad = tmp_path / "plan.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as info:
        load_plan(bad)
    assert str(info.value).startswith(f"{bad}: performance.non_inferiority.margin: Input should")


def test_retrain_on_new_data_is_inside(plan: Plan, pima_config: TrainingConfig) -> None:
    new = _with(pima_config, data__sha256="sha256:" + "1" * 64, split__seed=7)
    modification, scope = check_scope(plan, pima_config, new)
    assert (modification, scope.passed) == ("retrain-new-data", True)
    assert scope.values["changes"] == {"split.seed": {"from": 20261128, "to": 7}}


def test_threshold_recalibration_is_inside(plan: Plan, pima_config: TrainingConfig) -> None:
    modification, scope = check_scope(
        plan, pima_config, _with(pima_config, evaluation__threshold=0.3)
    )
    assert (modification, scope.passed) == ("recalibrate-threshold", True)


def test_feature_set_change_is_outside(plan: Plan, pima_config: TrainingConfig) -> None:
    data = pima_config.model_dump(mode="json")
    data["contract"]["columns"] = [c for c in data["contract"]["columns"] if c["name"] != "Insulin"]
    _, scope = check_scope(plan, pima_config, TrainingConfig.model_validate(data))
    assert not scope.passed
    assert scope.detail.startswith("the feature set changed (added [], removed ['Insulin'])")
    assert scope.detail.endswith("needs a new regulatory submission")


def test_parameter_outside_bounds_and_unbounded_change_are_outside(
    plan: Plan, pima_config: TrainingConfig
) -> None:
    _, deep = check_scope(plan, pima_config, _with(pima_config, model__xgboost__max_depth=6))
    assert "model.xgboost.max_depth = 6 is outside the plan's bounds [2, 4]" in deep.detail
    _, other = check_scope(plan, pima_config, _with(pima_config, model__xgboost__subsample=0.5))
    assert "model.xgboost.subsample changed from 0.9 to 0.5, which the plan does not let vary" in (
        other.detail
    )
    _, family = check_scope(
        plan, pima_config, _with(pima_config, model__family="logistic_regression")
    )
    assert "the model family is logistic_regression, the plan fixes xgboost" in family.detail


def test_overlapping_rows_and_late_registration_are_caught() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(50, 3)), columns=list("abc"))
    check = check_independence(
        frame.iloc[:40], frame.iloc[35:], "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"
    )
    assert not check.passed and check.values["overlapping_rows"] == 5
    assert check.detail == "5 test row(s) also appear in the training data"
    late = check_independence(
        frame.iloc[:40], frame.iloc[40:], "2026-01-03T00:00:00.000Z", "2026-01-02T00:00:00.000Z"
    )
    assert late.detail.startswith(
        "the test set was registered at 2026-01-03T00:00:00.000Z, after training started"
    )
    assert check_independence(frame.iloc[:40], frame.iloc[40:], None, "x").passed is False
    assert check_independence(frame.iloc[:40], frame.iloc[40:], "a", "b").passed


def test_non_inferiority_uses_paired_bootstrap(plan: Plan) -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    good = np.clip(0.35 * y + rng.normal(0.3, 0.15, 300), 0, 1)
    same = check_non_inferiority(plan, y, good, good)
    assert same.passed and same.values["difference"] == 0.0
    worse = np.clip(0.1 * y + rng.normal(0.45, 0.25, 300), 0, 1)
    verdict = check_non_inferiority(plan, y, worse, good)
    assert not verdict.passed and verdict.values["ci_low"] < -0.05
    assert "lower bound at or below -0.05" in verdict.detail


def test_report_renders_every_check() -> None:
    record = {
        "plan": {"id": "p", "version": 1, "record": "pccp-p@1", "record_sha256": "sha256:x"},
        "released": {"id": "m@1", "model_sha256": "sha256:a"},
        "candidate": {"model_sha256": "sha256:b"},
        "modification": "retrain-new-data",
        "outcome": "rejected",
        "checks": [
            {"name": "scope", "passed": True, "detail": "ok", "changes": {}},
            {
                "name": "acceptance",
                "passed": False,
                "detail": "auroc < x",
                "criteria": [
                    {
                        "criterion": "auroc point >= 0.65 in each subgroup",
                        "group": "age=40+",
                        "value": 0.6,
                        "passed": False,
                        "note": "",
                    }
                ],
            },
        ],
    }
    markdown = change_markdown(record)
    assert "# Change under PCCP p v1: rejected" in markdown
    assert "| acceptance | FAIL | auroc < x |" in markdown
    page = change_html(record)
    assert "<td>acceptance</td><td>FAIL</td>" in page and "<script" not in page
