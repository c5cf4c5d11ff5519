"""A prediction log as the model server writes it, for tests: each hour one request with every
active stay's hours so far, scored by a model, in write-once segments at a state location."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from samdops.config import load_config, packaged_config_path
from samdops.hospital.columns import STAY_ID, TIME
from samdops.serving.records import encode, prediction_record, segment_key
from samdops.store.state import StateLocation

_CONTRACT = load_config(packaged_config_path("sepsis")).contract
REQUEST_COLUMNS = tuple(c.name for c in _CONTRACT.columns if c.name != _CONTRACT.label)
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def requests_by_hour(frame: pd.DataFrame, hours: Sequence[int]) -> list[tuple[int, pd.DataFrame]]:
    """For each hour, the rows of the stays active then, each with its hours so far."""
    out = []
    for hour in hours:
        active = frame.loc[frame[TIME] == hour, STAY_ID].unique()
        rows = frame[frame[STAY_ID].isin(active) & (frame[TIME] <= hour)]
        if len(rows):
            out.append((hour, rows.sort_values([STAY_ID, TIME]).reset_index(drop=True)))
    return out


def record_for(
    request_id: str,
    rows: pd.DataFrame,
    risk: Sequence[float] | np.ndarray,
    *,
    model: str = "sepsis-risk@1",
    at: datetime = START,
    threshold: float = 0.02,
) -> dict[str, object]:
    inputs = {c: [None if pd.isna(v) else v for v in rows[c].tolist()] for c in REQUEST_COLUMNS}
    return prediction_record(
        request_id=request_id,
        answered_at=at,
        model=model,
        model_sha256="sha256:" + "ab" * 32,
        inputs=inputs,
        risk=[float(r) for r in risk],
        alert=[bool(r >= threshold) for r in risk],
    )


def write_segment(state: StateLocation, records: Sequence[dict[str, object]]) -> str:
    """Store ``records`` as one segment, as the journal uploads it; its key."""
    data = b"".join(encode(r) for r in records)
    name = str(records[0]["model"]).partition("@")[0]
    key = segment_key(name, str(records[0]["time"]), data)
    state.documents.create(key, data)
    return key


def log_records(
    frame: pd.DataFrame,
    score: Callable[[pd.DataFrame], np.ndarray],
    hours: Sequence[int],
    *,
    model: str = "sepsis-risk@1",
) -> list[dict[str, object]]:
    """One answered request per hour of ``hours``, answered a second apart (an accelerated
    clock): every active stay's hours so far, scored by ``score``."""
    return [
        record_for(f"r-{hour:05d}", rows, score(rows), model=model, at=START + timedelta(seconds=i))
        for i, (hour, rows) in enumerate(requests_by_hour(frame, hours))
    ]


def write_records(
    state: StateLocation, records: Sequence[dict[str, object]], *, per_segment: int = 10
) -> None:
    """``records`` as segments of ``per_segment`` records, as the journal uploads them."""
    for first in range(0, len(records), per_segment):
        write_segment(state, records[first : first + per_segment])
