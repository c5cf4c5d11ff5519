"""The seeded generator of ICU stays (vectorised with numpy; one row per patient-hour)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from samdops._types import Array
from samdops.errors import ConfigError
from samdops.hospital.columns import (
    EXTRA_LAB_SPECS,
    EXTRA_VITAL_SPECS,
    HOSP_ADM_TIME,
    ICULOS,
    LAB_EVERY_HOURS,
    LAB_SPECS,
    LABEL,
    LABEL_ARRIVAL,
    STAY_ID,
    TIME,
    VITAL_MISSING,
    VITAL_SPECS,
)
from samdops.hospital.scenarios import Scenario
from samdops.settings import SIMULATE_MAX_MB_ENV, simulate_max_mb

_WARMUP_HOURS = 14 * 24
_MEAN_LOS_HOURS = 60.0
_BASE_PREVALENCE = 0.05
_MAX_SEED = 2**31 - 1  # stay ids are seed * 10^7 + n in int64
# Peak memory per generated patient-hour (warm-up included), measured at about 400 bytes.
_BYTES_PER_HOUR = 512
# Deterioration (at full strength) before sepsis onset, per vital / per lab on the log scale.
_VITAL_DETERIORATION = {
    "HR": 22.0,
    "O2Sat": -2.5,
    "Temp": 1.0,
    "SBP": -14.0,
    "MAP": -10.0,
    "DBP": -7.0,
    "Resp": 6.0,
}
_LAB_DETERIORATION = {
    "Lactate": 0.6,
    "WBC": 0.35,
    "Creatinine": 0.25,
    "Platelets": -0.25,
    "Bilirubin_total": 0.25,
    "BUN": 0.15,
    "Glucose": 0.1,
    "pH": -0.006,
    "HCO3": -0.12,
}
_VITAL_SEVERITY = {"HR": 5.0, "Resp": 1.5, "SBP": -5.0, "MAP": -3.0, "DBP": -2.0, "O2Sat": -0.5}
_LAB_SEVERITY = {"Lactate": 0.2, "Creatinine": 0.2, "BUN": 0.2, "WBC": 0.1}
# The monitored-only columns: deterioration and severity effects (log scale for log labs).
_EXTRA_DETERIORATION = {
    "EtCO2": -3.0,
    "BaseExcess": -3.0,
    "FiO2": 0.1,
    "PaCO2": -0.08,
    "SaO2": -2.0,
    "AST": 0.3,
    "Phosphate": 0.1,
    "Potassium": 0.05,
    "PTT": 0.15,
    "Fibrinogen": 0.2,
    "TroponinI": 0.5,
}
_EXTRA_SEVERITY = {"BaseExcess": -1.0, "FiO2": 0.04, "TroponinI": 0.3, "AST": 0.15}
_SEASONAL_VITALS = {"Temp": 0.35, "Resp": 2.0}
_SEASONAL_LABS = {"WBC": 0.15}


@dataclass(frozen=True)
class HospitalData:
    """Hourly rows of every stay in ``[0, days*24)`` hours, with labels and their arrival hour."""

    frame: pd.DataFrame
    scenario: Scenario
    days: int
    seed: int

    @property
    def onset_hour(self) -> float:
        return self.scenario.onset_hour

    def day(self, day: int) -> pd.DataFrame:
        t = self.frame[TIME].to_numpy()
        return self.frame[(t >= 24 * day) & (t < 24 * (day + 1))]


def simulate_hospital(scenario: Scenario, *, days: int, seed: int, beds: int = 50) -> HospitalData:
    """Simulate ``days`` days of a ``beds``-bed ICU under ``scenario`` (same seed, same rows)."""
    if days < 1 or beds < 1:
        raise ConfigError(f"days and beds must be at least 1; got days={days}, beds={beds}")
    if not 0 <= seed <= _MAX_SEED:
        raise ConfigError(f"the seed must be from 0 to {_MAX_SEED}; got {seed}")
    _check_memory(days, beds)
    rng = np.random.default_rng(seed)
    onset = scenario.onset_hour
    n_stays = rng.poisson(beds / _MEAN_LOS_HOURS * (days * 24 + _WARMUP_HOURS))
    admit = np.sort(rng.uniform(-_WARMUP_HOURS, days * 24, n_stays))
    los = np.clip(np.round(rng.lognormal(np.log(48.0), 0.6, n_stays)), 8, 24 * 14).astype(int)
    late = admit >= onset
    age = np.clip(rng.normal(63.0, 16.0, n_stays) + scenario.age_shift * late, 18, 100)
    gender = rng.binomial(1, 0.56, n_stays).astype(float)
    unit1 = rng.binomial(1, 0.5, n_stays).astype(float)
    unit2 = 1.0 - unit1
    new_unit = late & (rng.uniform(size=n_stays) < scenario.new_unit_share)
    unit1[new_unit] = 0.0
    unit2[new_unit] = 0.0
    severity = rng.normal(0.0, 1.0, n_stays) + scenario.severity_shift * late + (age - 63) / 40
    prevalence = _BASE_PREVALENCE * np.where(late, scenario.prevalence_factor, 1.0)
    septic = rng.uniform(size=n_stays) < prevalence * np.exp(0.4 * severity) / 1.2
    sepsis_at = np.where(septic, np.maximum(rng.uniform(0.3, 0.95, n_stays) * los, 8.0), np.inf)

    stay = np.repeat(np.arange(n_stays), los)
    hour = np.arange(len(stay)) - np.repeat(np.cumsum(los) - los, los)
    time = admit[stay] + hour
    keep = (time >= 0) & (time < days * 24)
    stay, hour, time = stay[keep], hour[keep], time[keep]
    n = len(stay)
    after = time >= onset
    to_onset = hour - sepsis_at[stay]
    deterioration = np.clip((to_onset + 12.0) / 12.0, 0.0, 1.5)
    deterioration[~np.isfinite(to_onset)] = 0.0

    columns: dict[str, Array] = {}
    for name, (mean, between, within, low, high) in VITAL_SPECS.items():
        base = rng.normal(mean, between, n_stays) + _VITAL_SEVERITY.get(name, 0.0) * severity
        effect = _VITAL_DETERIORATION[name] * deterioration
        if name == "HR":
            effect = effect * np.where(after, 1.0 - scenario.tachycardia_blunting, 1.0)
        season = _SEASONAL_VITALS.get(name, 0.0) * scenario.seasonal * after
        value = base[stay] + effect + season + rng.normal(0.0, within, n)
        value = np.clip(value, low, high)
        missing = rng.uniform(size=n) < (VITAL_MISSING * (4 if name == "Temp" else 1))
        if name == "O2Sat" and scenario.o2sat_fault_unit1:
            missing |= after & (unit1[stay] == 1.0)
        value[missing] = np.nan
        columns[name] = np.round(value, 2 if name in ("Temp",) else 1)

    scale = dict(scenario.lab_scale)
    offset = dict(scenario.lab_offset)
    draw_rate = np.where(after, scenario.lab_frequency, 1.0) / LAB_EVERY_HOURS
    for name, (median, between, within, low, high) in LAB_SPECS.items():
        base = (
            rng.normal(np.log(median), between, n_stays) + _LAB_SEVERITY.get(name, 0.0) * severity
        )
        log_value = base[stay] + _LAB_DETERIORATION[name] * deterioration + rng.normal(0, within, n)
        log_value += _SEASONAL_LABS.get(name, 0.0) * scenario.seasonal * after
        value = np.clip(np.exp(log_value), low, high)
        value = value + offset.get(name, 0.0) * after
        value = value * np.where(after, scale.get(name, 1.0), 1.0)
        drawn = (rng.uniform(size=n) < draw_rate) | ((hour == 0) & (rng.uniform(size=n) < 0.7))
        value[~drawn] = np.nan
        columns[name] = np.round(value, 3 if name == "pH" else 2)

    # The monitored-only columns come from a stream of their own, so that adding them left the
    # model's inputs (and every model trained on this simulation) exactly as they were.
    extra = _extra_columns(
        np.random.default_rng([seed, 2019]),
        scenario,
        stay=stay,
        hour=hour,
        after=after,
        severity=severity,
        deterioration=deterioration,
        draw_rate=draw_rate,
    )
    hosp_adm = -np.clip(
        np.random.default_rng([seed, 2020]).lognormal(np.log(6.0), 1.6, n_stays), 0, 2000
    )
    lead = np.where(after, scenario.label_lead_hours, 6.0)
    label = (np.isfinite(to_onset) & (to_onset >= -lead)).astype(np.int8)
    frame = pd.DataFrame(
        {
            STAY_ID: stay.astype(np.int64) + seed * 10_000_000,
            TIME: np.floor(time).astype(np.int64),
            **columns,
            **extra,
            "Age": np.round(age[stay], 0),
            "Gender": gender[stay],
            "Unit1": unit1[stay],
            "Unit2": unit2[stay],
            HOSP_ADM_TIME: np.round(hosp_adm[stay], 2),
            ICULOS: hour.astype(np.int64) + 1,
            LABEL: label,
            LABEL_ARRIVAL: np.floor(time + rng.uniform(24.0, 72.0, n)).astype(np.int64),
        }
    )
    return HospitalData(frame=frame, scenario=scenario, days=days, seed=seed)


def _check_memory(days: int, beds: int) -> None:
    """Refuse, before allocating, a simulation that needs more memory than the limit."""
    hours = beds * (days * 24 + _WARMUP_HOURS)  # patient-hours generated: about one per bed-hour
    needed_mb = hours * _BYTES_PER_HOUR / 2**20
    limit = simulate_max_mb()
    if needed_mb > limit:
        raise ConfigError(
            f"{beds} beds over {days} days need about {needed_mb:,.0f} MiB of memory, more than "
            f"the simulator's limit of {limit} MiB (${SIMULATE_MAX_MB_ENV}); simulate fewer beds "
            "or days, or raise the limit"
        )


def _extra_columns(
    rng: np.random.Generator,
    scenario: Scenario,
    *,
    stay: Array,
    hour: Array,
    after: Array,
    severity: Array,
    deterioration: Array,
    draw_rate: Array,
) -> dict[str, Array]:
    """EtCO2 and the challenge's other labs, monitored but not model inputs."""
    n_stays, n = len(severity), len(stay)
    out: dict[str, Array] = {}
    for name, (mean, between, within, low, high, share) in EXTRA_VITAL_SPECS.items():
        base = rng.normal(mean, between, n_stays)
        value = base[stay] + _EXTRA_DETERIORATION.get(name, 0.0) * deterioration
        value = np.clip(value + rng.normal(0.0, within, n), low, high)
        charted = (rng.uniform(size=n_stays) < share)[stay] & (rng.uniform(size=n) >= VITAL_MISSING)
        out[name] = np.round(np.where(charted, value, np.nan), 1)
    scale = dict(scenario.lab_scale)
    offset = dict(scenario.lab_offset)
    for name, (centre, between, within, low, high, every, log) in EXTRA_LAB_SPECS.items():
        effect = (
            _EXTRA_SEVERITY.get(name, 0.0) * severity[stay]
            + _EXTRA_DETERIORATION.get(name, 0.0) * deterioration
        )
        if log:
            base = rng.normal(np.log(centre), between, n_stays)
            value = np.exp(base[stay] + effect + rng.normal(0.0, within, n))
        else:
            base = rng.normal(centre, between, n_stays)
            value = base[stay] + effect + rng.normal(0.0, within, n)
        value = np.clip(value, low, high) + offset.get(name, 0.0) * after
        value = value * np.where(after, scale.get(name, 1.0), 1.0)
        rate = draw_rate * LAB_EVERY_HOURS / every
        drawn = (rng.uniform(size=n) < rate) | ((hour == 0) & (rng.uniform(size=n) < 0.3))
        out[name] = np.round(np.where(drawn, value, np.nan), 2)
    return out
