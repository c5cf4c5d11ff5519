"""The sepsis model's governance documents: its PCCP plan and its model card text, against its
training config (PCCP-01, PCCP-04; model card fields)."""

from __future__ import annotations

from typing import Any

import pytest

from samdops.config import TrainingConfig, load_config, packaged_config_path
from samdops.features.sepsis_hourly import FEATURES
from samdops.hospital import get_scenario, simulate_hospital
from samdops.package.card import CardText, default_card_path, load_card_text
from samdops.pccp.gate import check_scope, decide
from samdops.pccp.plan import Plan, load_plan
from samdops.training.train import fit_model, model_inputs

CONFIGS = packaged_config_path("sepsis").parent


@pytest.fixture(scope="module")
def config() -> TrainingConfig:
    return load_config(packaged_config_path("sepsis"))


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(CONFIGS / "sepsis-pccp.yaml")


@pytest.fixture(scope="module")
def card() -> CardText:
    return load_card_text(CONFIGS / "sepsis-card.yaml")


def _with(config: TrainingConfig, **changes: Any) -> TrainingConfig:
    data = config.model_dump(mode="json")
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    return TrainingConfig.model_validate(data)


def test_plan_and_card_govern_the_sepsis_model(
    plan: Plan, card: CardText, config: TrainingConfig
) -> None:
    assert plan.model == card.model == config.name == "sepsis-risk"
    assert card.pccp == f"{plan.id}@{plan.version}" == "sepsis-risk@1"
    assert plan.fixed.contract == f"{config.contract.name}@{config.contract.version}"
    assert plan.fixed.label == config.contract.label == "SepsisLabel"
    assert plan.fixed.model_family == config.model.family
    assert {m.type for m in plan.modifications} == {"retrain-new-data", "recalibrate-threshold"}
    assert plan.update_procedure.required_signatures == ("review", "approval")


def test_fixed_features_are_the_contract_feature_names(plan: Plan, config: TrainingConfig) -> None:
    # The raw contract columns minus label and stay id, in order: what check_scope compares.
    assert plan.fixed.features == config.contract.feature_names
    assert "patient_id" not in plan.fixed.features and "SepsisLabel" not in plan.fixed.features


def test_the_plan_fixes_the_configs_acceptance_criteria(plan: Plan, config: TrainingConfig) -> None:
    assert plan.performance.criteria == config.evaluation.acceptance
    assert plan.performance.non_inferiority.metric == "auroc"


def test_current_config_is_inside_every_bound(plan: Plan, config: TrainingConfig) -> None:
    values = {
        "model.xgboost.n_estimators": config.model.xgboost.n_estimators,
        "model.xgboost.max_depth": config.model.xgboost.max_depth,
        "model.xgboost.learning_rate": config.model.xgboost.learning_rate,
        "model.xgboost.min_child_weight": config.model.xgboost.min_child_weight,
        "model.xgboost.reg_lambda": config.model.xgboost.reg_lambda,
        "model.seed": config.model.seed,
        "split.seed": config.split.seed,
        "evaluation.threshold": config.evaluation.threshold,
    }
    bounds = plan.retraining.parameter_bounds
    assert set(bounds) == set(values)
    for path, value in values.items():
        assert bounds[path].min <= value <= bounds[path].max, path
    modification, scope = check_scope(plan, config, config)
    assert (modification, scope.passed, scope.detail) == (
        "retrain-new-data",
        True,
        "retrain-new-data within the plan",
    )


def test_new_data_and_a_threshold_move_are_inside(plan: Plan, config: TrainingConfig) -> None:
    new = _with(config, data__sha256="sha256:" + "1" * 64, split__seed=7)
    modification, scope = check_scope(plan, config, new)
    assert (modification, scope.passed) == ("retrain-new-data", True)
    moved = _with(config, evaluation__threshold=0.03)
    modification, scope = check_scope(plan, config, moved)
    assert (modification, scope.passed) == ("recalibrate-threshold", True)


def test_a_config_outside_the_bounds_is_refused(plan: Plan, config: TrainingConfig) -> None:
    _, scope = check_scope(plan, config, _with(config, evaluation__threshold=0.1))
    assert not scope.passed
    assert scope.detail == (
        "evaluation.threshold = 0.1 is outside the plan's bounds [0.01, 0.05] - needs a new "
        "regulatory submission"
    )
    _, deep = check_scope(plan, config, _with(config, model__xgboost__max_depth=6))
    assert deep.detail == (
        "model.xgboost.max_depth = 6 is outside the plan's bounds [2, 4] - needs a new "
        "regulatory submission"
    )


def test_dropping_the_feature_transform_is_outside_the_plan(
    plan: Plan, config: TrainingConfig
) -> None:
    _, scope = check_scope(plan, config, _with(config, features=None))
    assert scope.detail == (
        "features changed from 'sepsis_hourly' to None, which the plan does not let vary - "
        "needs a new regulatory submission"
    )


def test_the_packaged_card_is_found_by_model_name() -> None:
    assert default_card_path("sepsis-risk").name == "sepsis-card.yaml"
    assert default_card_path("pima-diabetes-onset").name == "pima-card.yaml"
    assert default_card_path().name == "pima-card.yaml"
    assert default_card_path("no-such-model").name == "pima-card.yaml"  # refused by the caller


def test_card_says_the_data_is_simulated_and_cites_the_external_validation(
    card: CardText,
) -> None:
    assert "simulated" in card.regulatory_status.lower()
    assert "no real patient data" in card.datasets["source"]
    assert any("AUROC of 0.63" in f for f in card.limitations.failure_modes)
    assert any(f.startswith("Late labels") for f in card.limitations.failure_modes)
    assert any("Paediatric" in o or "paediatric" in o for o in card.intended_use.out_of_scope)
    assert "sepsis-risk@1" in card.monitoring.retraining_policy


def test_non_inferiority_scores_raw_rows_through_the_feature_transform(
    plan: Plan, config: TrainingConfig
) -> None:
    """The gate gets the hourly rows of the test set; both models read the transform's outputs."""
    rows = simulate_hospital(get_scenario("no_drift"), days=4, seed=5, beds=60).frame
    rows = rows.loc[:, [c.name for c in config.contract.columns]]
    model = fit_model(model_inputs(rows, config), FEATURES, "SepsisLabel", config.model, "xgboost")
    metrics = {m: {"point": 0.5, "ci_low": 0.5, "ci_high": 0.5} for m in config.evaluation.metrics}
    overall = {"name": "overall", "size": len(rows), "positives": 1, "metrics": metrics}
    decision = decide(
        plan,
        released_config=config,
        released_model=model,
        candidate_config=config,
        candidate_model=model,
        train=rows.iloc[:0],
        test=rows,
        evaluation={"overall": overall, "subgroups": []},
        test_registered_at="a",
        trained_at="b",
    )
    inferiority = decision.checks[-1]
    assert inferiority.name == "non-inferiority" and inferiority.passed
    assert inferiority.values["difference"] == 0.0 and inferiority.values["candidate"] > 0.8
