"""Hourly model features per stay: last value, 6-hour trend, hours since measured, missingness."""

from __future__ import annotations

import numpy as np
import pandas as pd

from samdops.hospital.columns import ICULOS, LABS, STAY_ID, TIME, VITALS

MEASURED = (*VITALS, *LABS)
DEMOGRAPHIC_FEATURES = ("Age", "Gender", "Unit1", "Unit2", ICULOS)
TREND_HOURS = 6


def feature_names() -> tuple[str, ...]:
    names: list[str] = []
    for name in MEASURED:
        names += [f"{name}_last", f"{name}_trend", f"{name}_hours_since", f"{name}_missing"]
    return (*names, *DEMOGRAPHIC_FEATURES)


FEATURES = feature_names()


def sepsis_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's features for every row (rows sorted by stay and time; history within a stay)."""
    rows = frame.sort_values([STAY_ID, TIME], kind="stable")
    stays = rows[STAY_ID].to_numpy()
    hours = rows[ICULOS].to_numpy(dtype=float)
    grouped_values = rows[list(MEASURED)].groupby(stays)
    last = grouped_values.ffill()
    earlier = last.groupby(stays).shift(TREND_HOURS)
    seen_at = (
        pd.DataFrame(
            np.where(rows[list(MEASURED)].notna(), hours[:, None], np.nan),
            columns=list(MEASURED),
            index=rows.index,
        )
        .groupby(stays)
        .ffill()
    )
    out: dict[str, object] = {STAY_ID: stays, TIME: rows[TIME].to_numpy()}
    for name in MEASURED:
        out[f"{name}_last"] = last[name].to_numpy()
        out[f"{name}_trend"] = (last[name] - earlier[name]).to_numpy()
        out[f"{name}_hours_since"] = hours - seen_at[name].to_numpy()
        out[f"{name}_missing"] = rows[name].isna().to_numpy(dtype=float)
    for name in DEMOGRAPHIC_FEATURES:
        out[name] = rows[name].to_numpy(dtype=float)
    return pd.DataFrame(out, index=rows.index)
