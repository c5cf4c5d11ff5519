"""The simulated hospital: conventions, determinism, late labels and each scenario's effect."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from samdops.cli import main
from samdops.errors import ConfigError
from samdops.features.sepsis_hourly import MEASURED
from samdops.hospital import FEATURES, LABS, SCENARIOS, VITALS, get_scenario, simulate_hospital
from samdops.hospital.columns import (
    ALL_LABS,
    EXTRA_LABS,
    EXTRA_VITALS,
    HOSP_ADM_TIME,
    ICULOS,
    LABEL,
    LABEL_ARRIVAL,
    STAY_ID,
    TIME,
)
from samdops.hospital.generator import HospitalData

DAYS = 6
BEDS = 120


def _sim(name: str, seed: int = 1) -> HospitalData:
    return simulate_hospital(get_scenario(name), days=DAYS, seed=seed, beds=BEDS)


def _before_after(data: HospitalData) -> tuple[pd.DataFrame, pd.DataFrame]:
    t = data.frame[TIME]
    return data.frame[t < data.onset_hour], data.frame[t >= data.onset_hour + 24]


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    a, b, c = _sim("no_drift", 4), _sim("no_drift", 4), _sim("no_drift", 5)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert not a.frame[list(VITALS)].equals(c.frame[list(VITALS)])


def test_physionet_columns_ranges_and_missingness() -> None:
    frame = _sim("no_drift").frame
    assert set(FEATURES) <= set(frame.columns)
    assert {STAY_ID, TIME, LABEL, LABEL_ARRIVAL} <= set(frame.columns)
    assert 20 * BEDS < len(frame) / DAYS <= 24 * BEDS  # one row per occupied bed-hour
    assert frame["HR"].isna().mean() == pytest.approx(0.12, abs=0.02)
    for lab in LABS:
        assert frame[lab].isna().mean() > 0.85  # labs every 6-24 h
    assert frame["O2Sat"].max() <= 100 and frame["pH"].dropna().between(6.8, 7.7).all()
    assert frame["Lactate"].median() == pytest.approx(1.5, abs=0.4)  # mmol/L
    stays = frame.groupby(STAY_ID)[LABEL].max()
    assert 0.02 < stays.mean() < 0.10  # a few percent of stays develop sepsis


def test_septic_hours_deteriorate_and_stays_are_correlated() -> None:
    frame = _sim("no_drift").frame
    septic = frame[frame[LABEL] == 1]
    healthy = frame[frame.groupby(STAY_ID)[LABEL].transform("max") == 0]
    assert septic["HR"].mean() > healthy["HR"].mean() + 10
    assert septic["Lactate"].median() > healthy["Lactate"].median()
    # Between-stay variance dominates: hours of one stay are strongly correlated.
    within = healthy.groupby(STAY_ID)["HR"].std().mean()
    assert healthy["HR"].std() > 1.8 * within


def test_labels_arrive_24_to_72_hours_late() -> None:
    frame = _sim("no_drift").frame
    delay = frame[LABEL_ARRIVAL] - frame[TIME]
    assert delay.min() >= 24 and delay.max() <= 72


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("lactate_mgdl", lambda b, a: a["Lactate"].median() / b["Lactate"].median() > 7),
        (
            "creatinine_offset",
            lambda b, a: 0.3 < a["Creatinine"].median() - b["Creatinine"].median() < 0.5,
        ),
        (
            "o2sat_sensor_fault",
            lambda b, a: (
                a.loc[a["Unit1"] == 1, "O2Sat"].isna().all()
                and a.loc[a["Unit2"] == 1, "O2Sat"].notna().mean() > 0.8
            ),
        ),
        ("fewer_labs", lambda b, a: a["WBC"].notna().mean() < 0.6 * b["WBC"].notna().mean()),
        ("older_sicker", lambda b, a: a["Age"].mean() > b["Age"].mean() + 4),
        ("new_unit", lambda b, a: ((a["Unit1"] == 0) & (a["Unit2"] == 0)).any()),
        ("seasonal", lambda b, a: a["Temp"].mean() > b["Temp"].mean() + 0.2),
        ("no_drift", lambda b, a: abs(a["Age"].mean() - b["Age"].mean()) < 4),
    ],
)
def test_each_data_scenario_has_its_effect(name: str, check: object) -> None:
    before, after = _before_after(_sim(name))
    assert callable(check) and check(before, after)
    assert not ((before["Unit1"] == 0) & (before["Unit2"] == 0)).any()


def test_prevalence_scenario_raises_sepsis_share() -> None:
    base = _sim("no_drift", 2).frame
    more = _sim("prevalence", 2).frame
    assert more[LABEL].mean() > 1.5 * base[LABEL].mean()


def test_concept_scenarios_change_the_relation_not_the_columns() -> None:
    base, treated = _sim("no_drift", 3), _sim("concept_treatment", 3)
    late = base.frame[TIME] >= base.onset_hour
    base_gap = base.frame[late & (base.frame[LABEL] == 1)]["HR"].mean()
    treated_late = treated.frame[TIME] >= treated.onset_hour
    treated_gap = treated.frame[treated_late & (treated.frame[LABEL] == 1)]["HR"].mean()
    assert base_gap > treated_gap + 10  # tachycardia blunted
    redefined = _sim("concept_definition", 3).frame
    assert redefined[LABEL].sum() > 1.5 * base.frame[LABEL].sum() * 0.8


def test_scenarios_compose_and_unknown_names_fail() -> None:
    both = get_scenario("lactate_mgdl+o2sat_sensor_fault")
    assert both.lab_scale == (("Lactate", 9.01),) and both.o2sat_fault_unit1
    assert both.expected_features == ("Lactate", "O2Sat")
    assert len(SCENARIOS) >= 11
    with pytest.raises(ConfigError, match="unknown scenario 'nope'"):
        get_scenario("nope")
    assert replace(both, onset_day=1).onset_hour == 24


def test_simulate_cli_writes_daily_parquet(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    args = ["simulate", "hospital", "--scenario", "lactate_mgdl", "--days", "3", "--seed", "7"]
    assert main([*args, "--beds", "20", "--out", str(out)]) == 0
    days = sorted((out / "data").glob("day_*.parquet"))
    assert [p.name for p in days] == ["day_0000.parquet", "day_0001.parquet", "day_0002.parquet"]
    day1 = pd.read_parquet(days[1])
    assert LABEL not in day1.columns and np.all(day1[TIME] // 24 == 1)
    labels = pd.read_parquet(out / "labels" / "day_0002.parquet")
    assert set(labels.columns) == {STAY_ID, TIME, LABEL, LABEL_ARRIVAL}
    assert (labels[LABEL_ARRIVAL] // 24 == 2).all()
    assert '"onset_hour": 72.0' in (out / "scenario.json").read_text()


def test_the_whole_physionet_record_is_monitored_but_not_fed_to_the_model() -> None:
    frame = _sim("no_drift").frame
    assert len(FEATURES) == 40 and set(EXTRA_VITALS + EXTRA_LABS) <= set(frame.columns)
    assert not set(EXTRA_VITALS + EXTRA_LABS + (HOSP_ADM_TIME,)) & set(MEASURED)
    assert set(MEASURED) == set(VITALS + LABS)  # the model's inputs are as they were
    for name in EXTRA_VITALS + EXTRA_LABS:
        assert frame[name].isna().mean() > 0.85, name  # mostly missing, as in PhysioNet
    assert frame["FiO2"].dropna().between(0.21, 1.0).all()
    assert frame["SaO2"].max() <= 100 and frame["BaseExcess"].dropna().lt(0).mean() > 0.3
    assert frame["Potassium"].median() == pytest.approx(4.1, abs=0.3)  # mmol/L
    per_stay = frame.groupby(STAY_ID)[HOSP_ADM_TIME].nunique()
    assert (per_stay == 1).all() and (frame[HOSP_ADM_TIME] <= 0).all()


def test_monitored_columns_have_a_stream_of_their_own() -> None:
    """Adding the monitored-only columns changed no model input: the digest of seed 7's model
    columns is the one the generator gave before they existed."""
    frame = _sim("no_drift", 7).frame
    columns = [STAY_ID, TIME, *VITALS, *LABS, "Age", "Gender", "Unit1", "Unit2", ICULOS]
    hashed = pd.util.hash_pandas_object(frame[[*columns, LABEL, LABEL_ARRIVAL]], index=False)
    digest = hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()
    assert digest == "31dbab2b82d943ca728caf089a45a6e3604f9c175f9cabaff263792907f09d9c"


def test_fewer_labs_thins_every_lab() -> None:
    base, fewer = _sim("no_drift", 7).frame, _sim("fewer_labs", 7).frame
    late_base, late = base[base[TIME] >= 24 * 4], fewer[fewer[TIME] >= 24 * 4]
    for lab in ("Potassium", "Hct", "WBC"):
        assert late[lab].notna().mean() < 0.6 * late_base[lab].notna().mean(), lab
    assert set(get_scenario("fewer_labs").expected_features) == set(ALL_LABS)
    assert get_scenario("prevalence").kind == "prior"
    assert "Unit" in get_scenario("new_unit").expected_features
