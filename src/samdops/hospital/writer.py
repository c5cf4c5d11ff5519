"""Daily Parquet files of a simulated hospital: features per day, labels by arrival day."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from samdops.atomic import atomic_write_bytes, atomic_write_text
from samdops.hospital.columns import LABEL, LABEL_ARRIVAL, STAY_ID, TIME
from samdops.hospital.generator import HospitalData


def write_daily(data: HospitalData, out: Path) -> list[Path]:
    """``out/data/day_NNNN.parquet`` (no labels) and ``out/labels/day_NNNN.parquet`` (labels
    confirmed that day), plus ``out/scenario.json``. Returns the files written."""
    written: list[Path] = []
    frame = data.frame
    features = frame.drop(columns=[LABEL, LABEL_ARRIVAL])
    arrival_day = frame[LABEL_ARRIVAL] // 24
    for day in range(data.days):
        rows = features[frame[TIME] // 24 == day]
        written.append(_write_parquet(rows, out / "data" / f"day_{day:04d}.parquet"))
        labels = frame.loc[arrival_day == day, [STAY_ID, TIME, LABEL, LABEL_ARRIVAL]]
        written.append(_write_parquet(labels, out / "labels" / f"day_{day:04d}.parquet"))
    manifest = {
        "scenario": data.scenario.name,
        "description": data.scenario.description,
        "kind": data.scenario.kind,
        "onset_hour": data.onset_hour,
        "expected_features": list(data.scenario.expected_features),
        "days": data.days,
        "seed": data.seed,
    }
    atomic_write_text(out / "scenario.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    written.append(out / "scenario.json")
    return written


def _write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    buffer = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buffer, index=False)
    atomic_write_bytes(path, buffer.getvalue())
    return path
