"""load_registered_model: model bytes from the store by digest, verified; the baseline
from the record's metrics and the config's threshold; the config's transform (or none) scores
raw rows, for the sepsis model and the Pima model alike; anything else is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from samdops.config import TrainingConfig, default_config_path, load_config, packaged_config_path
from samdops.digest import canonical_json
from samdops.errors import DigestMismatch, RegistryError, StoreError, VerificationError
from samdops.features.sepsis_hourly import FEATURES
from samdops.governance.records import Registry
from samdops.hospital import get_scenario, simulate_hospital
from samdops.hospital.columns import LABEL
from samdops.monitoring.registered_model import load_registered_model
from samdops.training.contract import apply_contract
from samdops.training.models import ModelFile
from samdops.training.train import fit_model, model_inputs
from tests.conftest import PIMA_CSV

METRICS = {
    "auroc": {"point": 0.97, "ci_low": 0.95, "ci_high": 0.99},
    "calibration_slope": {"point": 1.1, "ci_low": None, "ci_high": None},
    "calibration_intercept": {"point": 0.4, "ci_low": None, "ci_high": None},
    "alert_rate": {"point": 0.05, "ci_low": 0.04, "ci_high": 0.06},
    "ppv": {"point": 0.4, "ci_low": 0.3, "ci_high": 0.5},
}


@pytest.fixture(scope="module")
def sepsis_config() -> TrainingConfig:
    return load_config(packaged_config_path("sepsis"))


@pytest.fixture(scope="module")
def model(sepsis_config: TrainingConfig) -> ModelFile:
    frame = simulate_hospital(get_scenario("no_drift"), days=4, seed=5, beds=60).frame
    inputs = model_inputs(frame, sepsis_config)
    return fit_model(inputs, FEATURES, LABEL, sepsis_config.model, "xgboost")


def _register(
    registry: Registry,
    config: TrainingConfig,
    model: ModelFile,
    *,
    metrics: dict[str, Any] = METRICS,
    status: str = "registered",
    evaluated: str | None = None,
) -> str:
    store = registry.store
    model_digest = store.put_bytes(model.to_bytes())
    evaluation = {"model_sha256": evaluated or model_digest, "overall": {"size": 1234}}
    fields = {
        "status": status,
        "gate": {"passed": status != "gate_failed", "criteria": []},
        "model": {"sha256": model_digest, "family": model.family},
        "metrics": metrics,
        "artifacts": {"evaluation": {"sha256": store.put_bytes(canonical_json(evaluation))}},
        "lineage": {"config": {"sha256": store.put_bytes(config.to_json().encode("utf-8"))}},
    }
    return registry.register(config.name, fields).id


def test_loads_the_model_and_its_baseline(
    tmp_path: Path, sepsis_config: TrainingConfig, model: ModelFile
) -> None:
    registry = Registry(tmp_path)
    ref = _register(registry, sepsis_config, model)
    loaded = load_registered_model(registry, ref)
    assert loaded.model.sha256 == model.sha256
    baseline = loaded.baseline
    assert (baseline.auroc, baseline.calibration_slope, baseline.calibration_intercept) == (
        0.97,
        1.1,
        0.4,
    )
    assert (baseline.alert_rate, baseline.ppv, baseline.n_validation_rows) == (0.05, 0.4, 1234)
    assert baseline.threshold == sepsis_config.evaluation.threshold
    window = simulate_hospital(get_scenario("no_drift"), days=2, seed=6, beds=40).day(1)
    scores = loaded.score(window)
    assert scores.shape == (len(window),) and np.all((scores >= 0) & (scores <= 1))
    for same in ("sepsis-risk", "latest"):
        assert load_registered_model(registry, same).model.sha256 == model.sha256


def test_changed_model_bytes_in_the_store_are_refused(
    tmp_path: Path, sepsis_config: TrainingConfig, model: ModelFile
) -> None:
    registry = Registry(tmp_path)
    ref = _register(registry, sepsis_config, model)
    digest = registry.get(ref).model_sha256
    stored = tmp_path / "store" / "sha256" / digest.split(":")[1]
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes().replace(b'"xgboost"', b'"xgboosT"', 1))
    with pytest.raises(DigestMismatch, match=f"stored object {digest} .* now hashes to"):
        load_registered_model(registry, ref)
    stored.unlink()
    with pytest.raises(StoreError, match=f"cannot read the model file of {ref}: {digest} is not"):
        load_registered_model(registry, ref)


def test_a_model_that_missed_its_gate_is_refused(
    tmp_path: Path, sepsis_config: TrainingConfig, model: ModelFile
) -> None:
    registry = Registry(tmp_path)
    ref = _register(registry, sepsis_config, model, status="gate_failed")
    with pytest.raises(RegistryError) as info:
        load_registered_model(registry, ref)
    assert str(info.value) == (
        "sepsis-risk@1 has status gate_failed: a model that missed its acceptance gate or was "
        "rejected is not monitored; give a registered model's id"
    )


def test_a_model_of_another_config_is_refused(tmp_path: Path, model: ModelFile) -> None:
    registry = Registry(tmp_path)
    ref = _register(registry, load_config(default_config_path()), model)
    with pytest.raises(VerificationError) as info:
        load_registered_model(registry, ref)
    assert str(info.value) == (
        "the model of pima-diabetes-onset@1 is a xgboost model on 69 inputs, not the xgboost "
        "model on the 8 inputs its config names"
    )


def test_the_pima_model_scores_raw_rows_as_it_was_trained(tmp_path: Path) -> None:
    """No transform: the contract's columns, with its missing codes (a Glucose of 0) as NaN,
    as ingest gave them to training; the extra columns of a window are not inputs."""
    config = load_config(default_config_path())
    raw = pd.read_csv(PIMA_CSV)
    trained = apply_contract(raw, config.contract)
    pima = fit_model(trained, config.model_features, "Outcome", config.model, "xgboost")
    registry = Registry(tmp_path)
    ref = _register(registry, config, pima)
    loaded = load_registered_model(registry, ref)
    assert loaded.label == "Outcome" and not loaded.looks_back
    window = raw.drop(columns=["Outcome"]).assign(record_id=range(len(raw)), ward="B")
    assert np.array_equal(loaded.score(window), pima.predict_proba(trained))
    assert (raw["Glucose"] == 0).any()  # the codes mattered
    assert not np.array_equal(loaded.score(window), pima.predict_proba(raw))


def test_a_model_on_other_features_is_refused(
    tmp_path: Path, sepsis_config: TrainingConfig, model: ModelFile
) -> None:
    other = ModelFile({**model.document, "features": list(FEATURES[:-1])})
    registry = Registry(tmp_path)
    ref = _register(registry, sepsis_config, other)
    with pytest.raises(VerificationError, match="is a xgboost model on 68 inputs, not the xgboo"):
        load_registered_model(registry, ref)


def test_an_evaluation_of_another_model_is_refused(
    tmp_path: Path, sepsis_config: TrainingConfig, model: ModelFile
) -> None:
    registry = Registry(tmp_path)
    ref = _register(registry, sepsis_config, model, evaluated="sha256:" + "0" * 64)
    with pytest.raises(VerificationError, match="evaluation report of sepsis-risk@1 is for model"):
        load_registered_model(registry, ref)


def test_a_record_without_the_baseline_metrics_is_refused(
    tmp_path: Path, sepsis_config: TrainingConfig, model: ModelFile
) -> None:
    registry = Registry(tmp_path)
    metrics = {k: v for k, v in METRICS.items() if k != "calibration_slope"}
    ref = _register(registry, sepsis_config, model, metrics=metrics)
    with pytest.raises(RegistryError, match="sepsis-risk@1 records no calibration_slope; the mon"):
        load_registered_model(registry, ref)
    no_alerts = {**METRICS, "ppv": {"point": None, "ci_low": None, "ci_high": None}}
    ref = _register(registry, sepsis_config, model, metrics=no_alerts)
    assert load_registered_model(registry, ref).baseline.ppv is None
