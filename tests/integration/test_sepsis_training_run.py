"""The sepsis model through the same training pipeline as Pima: `samdops run train --config
sepsis` through kfp.local, then the monitor's loader on the registered model."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from samdops.config import load_config, packaged_config_path
from samdops.governance.records import Registry, RegistryRecord
from samdops.governance.service import GovernedRegistry
from samdops.hospital import get_scenario, simulate_hospital
from samdops.hospital.columns import STAY_ID
from samdops.monitoring.registered_model import load_registered_model
from samdops.steps.inprocess import run_training_in_process
from tests.cli_helpers import samdops

pytestmark = pytest.mark.slow
MODEL = "sepsis-risk@1"
BASELINE = ("auroc", "calibration_slope", "calibration_intercept", "alert_rate", "ppv")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    home = tmp_path_factory.mktemp("home")
    done = samdops(home, "run", "train", "--config", "sepsis")
    assert done.returncode == 0, done.stdout + done.stderr
    return home, done.stdout


@pytest.fixture(scope="module")
def record(trained: tuple[Path, str]) -> RegistryRecord:
    return Registry(trained[0]).get(MODEL)


def test_run_registers_the_sepsis_model_and_prints_the_summary(
    trained: tuple[Path, str], record: RegistryRecord
) -> None:
    _, out = trained
    assert record.status == "registered" and record.document["gate"]["passed"] is True
    assert f"registered {MODEL} (status registered)" in out
    for task in ("ingest", "validate", "train", "evaluate", "register"):
        assert f"  {task:<10} ok" in out
    assert f"model sha256   {record.model_sha256} (xgboost)" in out
    assert "auroc        0." in out and "(95% CI " in out
    assert "5-fold CV AUROC (xgboost): 0." in out
    assert "acceptance gate: PASSED" in out


def test_record_carries_the_monitors_baseline(
    trained: tuple[Path, str], record: RegistryRecord
) -> None:
    metrics = record.document["metrics"]
    assert set(BASELINE) <= set(metrics)
    assert all(metrics[name]["point"] is not None for name in BASELINE)
    auroc = metrics["auroc"]
    assert 0.85 < auroc["ci_low"] < auroc["point"] < auroc["ci_high"] <= 1.0
    assert 0.02 < metrics["alert_rate"]["point"] < 0.10
    assert metrics["calibration_slope"]["ci_low"] is None  # a point estimate
    registry = Registry(trained[0])
    evaluation = json.loads(
        registry.store.get_bytes(record.document["artifacts"]["evaluation"]["sha256"])
    )
    assert evaluation["threshold"] == 0.02
    assert [g["name"] for g in evaluation["subgroups"]] == [
        "unit=SICU",
        "unit=MICU",
        "age_band=18-49",
        "age_band=50-64",
        "age_band=65-79",
        "age_band=80+",
    ]
    config = json.loads(registry.store.get_bytes(record.document["lineage"]["config"]["sha256"]))
    assert config["features"] == "sepsis_hourly" and config["contract"]["group"] == STAY_ID


def test_no_stay_has_hours_in_both_train_and_test(
    trained: tuple[Path, str], record: RegistryRecord
) -> None:
    store = Registry(trained[0]).store
    artifacts = record.document["artifacts"]
    train = pd.read_parquet(io.BytesIO(store.get_bytes(artifacts["train"]["sha256"])))
    test = pd.read_parquet(io.BytesIO(store.get_bytes(artifacts["test"]["sha256"])))
    assert not set(train[STAY_ID]) & set(test[STAY_ID])
    source = pd.read_parquet(load_config(packaged_config_path("sepsis")).data.path)
    assert set(train[STAY_ID]) | set(test[STAY_ID]) == set(source[STAY_ID])
    assert len(train) + len(test) == len(source)


def test_the_same_inputs_in_one_process_give_the_same_model(
    record: RegistryRecord, tmp_path: Path
) -> None:
    config = load_config(packaged_config_path("sepsis"))
    again = run_training_in_process(
        config,
        data=Path(config.data.path),
        data_sha256=config.data.sha256,
        state=tmp_path / "h",
        workdir=tmp_path / "w",
    )
    assert again.model_sha256 == record.model_sha256
    artifacts = again.document["artifacts"]
    for name in ("dataset", "train", "test", "evaluation"):
        assert artifacts[name]["sha256"] == record.document["artifacts"][name]["sha256"], name
    assert again.document["metrics"] == record.document["metrics"]


def test_the_monitors_loader_scores_a_window(
    trained: tuple[Path, str], record: RegistryRecord
) -> None:
    home, _ = trained
    for registry in (Registry(home), GovernedRegistry(home)):
        model = load_registered_model(registry, MODEL)
        assert model.model.sha256 == record.model_sha256
    metrics = record.document["metrics"]
    baseline = model.baseline
    assert baseline.auroc == metrics["auroc"]["point"]
    assert baseline.calibration_slope == metrics["calibration_slope"]["point"]
    assert baseline.alert_rate == metrics["alert_rate"]["point"]
    assert baseline.ppv == metrics["ppv"]["point"] and baseline.threshold == 0.02
    window = simulate_hospital(get_scenario("no_drift"), days=3, seed=77, beds=100).day(2)
    scores = model.score(window)
    assert scores.shape == (len(window),) and np.all((scores >= 0) & (scores <= 1))
    assert 0.0 < float(np.mean(scores >= baseline.threshold)) < 0.2
