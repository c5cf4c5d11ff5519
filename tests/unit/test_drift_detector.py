"""The drift detector: no false alarm on the control, scale named, missingness, per-stay units."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from samdops.drift import ScipyDriftDetector
from samdops.drift.aggregate import sample_one_row_per_stay, stay_missing_rate, stay_summary
from samdops.drift.correction import reject
from samdops.drift.multivariate import domain_classifier_test
from samdops.drift.scipy_detector import ks_test, rank_sum_test
from samdops.errors import ConfigError, DataContractError
from samdops.hospital import FEATURES, get_scenario, simulate_hospital
from samdops.hospital.columns import CATEGORICAL, CATEGORY_GROUPS, ICULOS, STAY_ID, TIME
from samdops.hospital.generator import HospitalData

BEDS = 150


@functools.cache
def _reference() -> pd.DataFrame:
    return simulate_hospital(get_scenario("no_drift"), days=5, seed=900, beds=BEDS).frame


@functools.cache
def _stream(name: str, seed: int) -> HospitalData:
    return simulate_hospital(get_scenario(name), days=5, seed=seed, beds=BEDS)


def _detector(**options: object) -> ScipyDriftDetector:
    return ScipyDriftDetector(
        FEATURES,
        categorical=CATEGORICAL,
        id_column=STAY_ID,
        time_column=TIME,
        multivariate_exclude=(ICULOS,),
        **options,
    ).fit(_reference())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_drift_control_does_not_alarm(seed: int) -> None:
    detector = _detector()
    data = _stream("no_drift", seed)
    assert [detector.predict(data.day(d)).is_drift for d in range(5)] == [False] * 5


def test_before_onset_no_alarm_after_onset_lactate_named_as_scale_error() -> None:
    detector = _detector()
    data = _stream("lactate_mgdl", 4)
    assert not detector.predict(data.day(2)).is_drift
    result = detector.predict(data.day(3))
    assert result.is_drift and result.blamed == "Lactate"
    assert result.drifted[0].finding is not None
    assert result.drifted[0].finding.startswith("Lactate about 9x larger than reference")


def test_missingness_drift_detected_on_nan_heavy_labs() -> None:
    result = _detector().predict(_stream("fewer_labs", 5).day(3))
    missing = {t.name for t in result.drifted if t.kind == "missingness"}
    assert len(missing) >= 5 and missing <= set(get_scenario("fewer_labs").expected_features)
    # Values themselves unchanged; the domain classifier sees the missing values too.
    assert {t.kind for t in result.drifted} <= {"missingness", "multivariate"}


def test_sensor_fault_is_a_missingness_finding_on_o2sat() -> None:
    result = _detector().predict(_stream("o2sat_sensor_fault", 6).day(3))
    top = result.drifted[0]
    assert (top.name, top.kind) == ("O2Sat", "missingness")
    assert top.finding is not None and "O2Sat missing in" in top.finding


def test_creatinine_offset_named_as_shift() -> None:
    result = _detector().predict(_stream("creatinine_offset", 7).day(4))
    assert result.blamed == "Creatinine"
    finding = result.drifted[0].finding
    assert finding is not None and finding.startswith("Creatinine median shifted by +")
    shift = float(finding.split("shifted by ")[1].split(" ")[0])
    assert 0.25 < shift < 0.6  # the simulated offset is +0.4 mg/dL


def test_score_distribution_drift() -> None:
    def scorer(frame: pd.DataFrame) -> np.ndarray:  # type: ignore[type-arg]
        return np.asarray(frame["HR"].fillna(80).to_numpy() / 200.0)

    detector = _detector(scorer=scorer)
    result = detector.predict(_stream("seasonal", 8).day(2))
    assert result.as_dict()["score"]["test"] == "KS"
    shifted = _stream("no_drift", 8).day(2).assign(HR=lambda f: f["HR"] + 15)
    assert any(t.kind == "score" and t.is_drift for t in detector.predict(shifted).tests)


def test_hourly_rows_false_alarm_where_stays_do_not() -> None:
    """Rows of one stay are not independent: testing hours alarms on the no-drift control."""
    window = _stream("no_drift", 9).day(3)
    per_row = ScipyDriftDetector(FEATURES, categorical=CATEGORICAL).fit(_reference())
    per_stay = _detector()
    assert per_row.predict(window).is_drift
    assert not per_stay.predict(window).is_drift
    sampled = _detector(stay_mode="sample")
    assert sampled.unit == "sampled row per stay" and not sampled.predict(window).is_drift


def test_stay_aggregation_gives_one_row_per_stay() -> None:
    frame = pd.DataFrame(
        {"id": [1, 1, 1, 2, 2], "x": [1.0, np.nan, 3.0, np.nan, np.nan], "y": [1.0] * 5}
    )
    summary = stay_summary(frame, "id", ["x", "y"])
    assert summary.loc[1, "x"] == 2.0 and np.isnan(summary.loc[2, "x"])
    missing = stay_missing_rate(frame, "id", ["x"])
    assert missing["x"].tolist() == pytest.approx([1 / 3, 1.0])
    sampled = sample_one_row_per_stay(frame, "id", seed=0)
    assert sampled["id"].tolist() == [1, 2]


def test_correction_bonferroni_and_fdr() -> None:
    p = np.array([0.001, 0.02, 0.03, 0.5, np.nan])
    assert reject(p, 0.05, "bonferroni").tolist() == [True, False, False, False, False]
    assert reject(p, 0.05, "fdr").tolist() == [True, True, True, False, False]
    with pytest.raises(ConfigError, match=r"alpha must be in \(0, 1\); got 1.5"):
        reject(p, 1.5, "fdr")
    with pytest.raises(ConfigError, match="correction must be"):
        reject(p, 0.05, "holm")


def test_bad_windows_are_clear_errors() -> None:
    detector = _detector()
    with pytest.raises(DataContractError, match="current window lacks column"):
        detector.predict(pd.DataFrame({STAY_ID: [1]}))
    with pytest.raises(ConfigError, match="fitted"):
        ScipyDriftDetector(["x"]).predict(pd.DataFrame({"x": [1.0]}))


def test_alibi_backend_drops_nan_and_names_scale() -> None:
    from samdops.drift.alibi_backend import alibi_detector

    detector = alibi_detector(
        ["Lactate", "HR"], id_column=STAY_ID, time_column=TIME, alpha=0.01
    ).fit(_reference())
    result = detector.predict(_stream("lactate_mgdl", 4).day(4))
    assert result.blamed == "Lactate" and result.drifted[0].test == "alibi KSDrift"
    assert all(np.isfinite(t.p_value) for t in result.tests)


def test_new_unit_is_blamed_on_the_unit_group() -> None:
    """Unit1 = Unit2 = 0 is a category the reference never had: tested as one variable."""
    detector = _detector(category_groups=CATEGORY_GROUPS, admission_column=ICULOS)
    data = _stream("new_unit", 10)
    assert not detector.predict(data.day(2)).is_drift
    result = detector.predict(data.day(3))
    assert result.is_drift and result.blamed == "Unit"
    top = result.drifted[0]
    assert top.test in ("Chi2", "Chi2 (new admissions)") and top.finding is not None
    assert top.finding.startswith("Unit (Unit1/Unit2) category shares changed (0.0/0.0: 0% -> ")


def test_category_group_columns_must_be_features() -> None:
    with pytest.raises(ConfigError, match=r"category group columns \['Ward'\] are not among"):
        ScipyDriftDetector(["Unit1"], category_groups={"Unit": ("Unit1", "Ward")})


def test_alert_share_of_the_score_is_tested_when_a_threshold_is_given() -> None:
    def scorer(frame: pd.DataFrame) -> np.ndarray:  # type: ignore[type-arg]
        return np.asarray(frame["HR"].fillna(80).to_numpy() / 200.0)

    detector = _detector(scorer=scorer, alert_threshold=0.55)  # HR >= 110
    window = _stream("no_drift", 8).day(2)
    quiet = detector.predict(window)
    share = [t for t in quiet.tests if t.test == "Fisher alert share"]
    assert len(share) == 1 and not share[0].is_drift
    sicker = window.assign(HR=lambda f: np.where(f[STAY_ID] % 3 == 0, f["HR"] + 40, f["HR"]))
    drifted = [t for t in detector.predict(sicker).drifted if t.test == "Fisher alert share"]
    assert drifted and drifted[0].name == "score" and drifted[0].finding is not None
    assert "of stays above the alert threshold" in drifted[0].finding


def test_multivariate_domain_classifier_runs_by_default() -> None:
    result = _detector().predict(_stream("no_drift", 1).day(2))
    multivariate = result.as_dict()["multivariate"]
    assert multivariate is not None and multivariate["test"] == "Classifier"
    assert not multivariate["is_drift"]
    off = _detector(multivariate=None).predict(_stream("no_drift", 1).day(2))
    assert off.as_dict()["multivariate"] is None


def test_domain_classifier_sees_a_joint_change_the_margins_do_not() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 2))
    x[:, 1] = x[:, 0] + 0.3 * x[:, 1]
    y = rng.normal(size=(300, 2))
    y[:, 1] = -y[:, 0] + 0.3 * y[:, 1]  # same margins, opposite correlation
    auc, p = domain_classifier_test(x, y)
    assert auc > 0.9 and p < 1e-20
    same = rng.normal(size=(300, 2))
    same[:, 1] = same[:, 0] + 0.3 * same[:, 1]
    assert domain_classifier_test(x, same)[1] > 0.001


def test_domain_classifier_keeps_a_stays_units_in_one_fold() -> None:
    """Repeated units of one stay split across folds let the classifier recognise patients."""
    rng = np.random.default_rng(1)
    stays = rng.normal(size=(150, 5))
    reference = np.repeat(stays, 6, axis=0) + rng.normal(scale=0.01, size=(900, 5))
    current = rng.normal(size=(300, 5))
    groups = np.repeat(np.arange(150), 6)
    assert domain_classifier_test(reference, current, reference_groups=groups)[1] > 0.01
    assert domain_classifier_test(reference, current)[1] < 1e-6  # the leak, without groups


def test_domain_classifier_p_values_hold_under_no_drift() -> None:
    rng = np.random.default_rng(2)
    p = [
        domain_classifier_test(rng.normal(size=(300, 3)), rng.normal(size=(150, 3)), seed=i)[1]
        for i in range(40)
    ]
    assert np.mean(np.array(p) < 0.05) <= 0.1


def test_new_admissions_are_tested_for_a_shift_with_more_power_than_ks() -> None:
    """200 days with 55 admissions each, 9 years older than the reference's 1,700 on average."""
    rng = np.random.default_rng(7)
    caught = {"rank sum": 0, "KS": 0, "rank sum, no shift": 0}
    for _ in range(200):
        reference, shifted = rng.normal(60, 16, 1700), rng.normal(69, 16, 55)
        caught["rank sum"] += rank_sum_test(reference, shifted)[1] < 1e-4
        caught["KS"] += ks_test(reference, shifted)[1] < 1e-4
        caught["rank sum, no shift"] += rank_sum_test(reference, rng.normal(60, 16, 55))[1] < 0.01
    assert caught["rank sum"] >= caught["KS"] + 25  # 105 against 67
    assert caught["rank sum, no shift"] <= 5  # 1: the test keeps its level
