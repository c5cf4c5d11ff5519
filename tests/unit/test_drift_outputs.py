"""Alerts, the HTML/Markdown report, new-admission case-mix tests and the sepsis model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from samdops.drift import ScipyDriftDetector
from samdops.drift.alerts import JsonlAlertSink, data_drift_alert
from samdops.features.sepsis_hourly import FEATURES as MODEL_FEATURES
from samdops.features.sepsis_hourly import sepsis_features
from samdops.hospital import FEATURES, get_scenario, simulate_hospital
from samdops.hospital.columns import CATEGORICAL, ICULOS, LABEL, STAY_ID, TIME
from samdops.monitoring.report import html_report, markdown_summary
from samdops.sepsis.model import train_sepsis_model


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return simulate_hospital(get_scenario("no_drift"), days=5, seed=31, beds=150).frame


def _detector(reference: pd.DataFrame, **options: object) -> ScipyDriftDetector:
    return ScipyDriftDetector(
        FEATURES,
        categorical=CATEGORICAL,
        id_column=STAY_ID,
        time_column=TIME,
        multivariate_exclude=(ICULOS,),
        **options,
    ).fit(reference)


def test_new_admissions_reveal_case_mix_drift_on_the_first_day(reference: pd.DataFrame) -> None:
    day = simulate_hospital(get_scenario("older_sicker"), days=4, seed=32, beds=150).day(3)
    assert not _detector(reference).predict(day).is_drift  # diluted by stays already there
    result = _detector(reference, admission_column=ICULOS).predict(day)
    assert result.blamed == "Age" and result.drifted[0].test == "MannWhitneyU (new admissions)"
    assert "Age" in result.as_dict()["new_admissions"]
    control = simulate_hospital(get_scenario("no_drift"), days=4, seed=33, beds=150).day(3)
    assert not _detector(reference, admission_column=ICULOS).predict(control).is_drift


def test_alert_report_and_summary(reference: pd.DataFrame, tmp_path: Path) -> None:
    day = simulate_hospital(get_scenario("lactate_mgdl"), days=4, seed=34, beds=150).day(3)
    result = _detector(reference).predict(day)
    alert = data_drift_alert(result, "day 3")
    assert alert is not None and alert.severity == "critical"
    assert alert.features[0] == "Lactate" and alert.window == "day 3"
    sink = JsonlAlertSink(tmp_path / "alerts.jsonl")
    sink.emit(alert)
    sink.emit(alert)
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["evidence"][0].startswith("Lactate about 9x")
    values = {"Lactate": day["Lactate"].to_numpy(dtype=float)}
    page = html_report(result, "day 3", values, values, history=[("d1", 0.5), ("d2", 1e-9)])
    assert page.count("<svg") == 3 and "Lactate about 9x larger" in page
    summary = markdown_summary(result, "day 3")
    assert "**DRIFT**" in summary and "| Lactate | value |" in summary
    control = simulate_hospital(get_scenario("no_drift"), days=2, seed=35, beds=150).day(1)
    assert data_drift_alert(_detector(reference).predict(control), "day 1") is None


def test_sepsis_features_and_model_baseline(reference: pd.DataFrame) -> None:
    frame = simulate_hospital(get_scenario("no_drift"), days=6, seed=36, beds=120).frame
    features = sepsis_features(frame)
    assert list(features.columns[2:]) == list(MODEL_FEATURES)
    one = features[features[STAY_ID] == features[STAY_ID].iloc[0]]
    assert (np.diff(one["Lactate_hours_since"].dropna().to_numpy()) <= 1).all()
    assert set(one["HR_missing"].unique()) <= {0.0, 1.0}
    model = train_sepsis_model(frame)
    baseline = model.baseline
    assert baseline.auroc > 0.85 and baseline.alert_rate == pytest.approx(0.05, abs=0.01)
    assert model.model.family == "xgboost" and model.model.features == MODEL_FEATURES
    scores = model.score(frame.iloc[:500])
    assert scores.shape == (500,) and np.all((scores >= 0) & (scores <= 1))
    assert model.model.sha256 == train_sepsis_model(frame).model.sha256  # deterministic
    assert frame[LABEL].sum() > 0
