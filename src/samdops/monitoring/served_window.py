"""A monitoring window read from the prediction log: what the model server answered.

The monitoring pipeline names the log as its current window with ``predictions://NAME`` (and
the label feed as its labels with ``labels://NAME``). A window is a day of the rows' own clock,
``N`` or ``day-N``: the answered rows whose hour column (``Time``) ``// 24 == N``, whenever
they were answered, so a hospital played on an accelerated clock is monitored as it ran.

Every request carries each active stay's hours so far, so an hour is answered many times; its
score depends only on the stay's earlier hours, and the window keeps each ``(id, hour)`` once,
as first answered. Refused requests answered nothing and are skipped. The window keeps the
served ``risk``, the ``model`` (``name@version``) that answered and the ``request_id``: the
monitor watches the scores that were served and checks them against the registered model's
own (:func:`check_served_scores`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from samdops._types import Array
from samdops.drift.alerts import Alert
from samdops.errors import DriftInputError
from samdops.monitoring.label_feed import check_model_name
from samdops.serving.records import answered_rows, read_prediction_log
from samdops.store.state import StateLocation

PREDICTIONS = "predictions://"
LABELS = "labels://"
SERVED_RISK = "risk"
SERVED_MODEL = "model"
SERVED_REQUEST = "request_id"
SERVED_COLUMNS = (SERVED_RISK, SERVED_MODEL, SERVED_REQUEST)
_ALERT = "alert"  # derived from the risk and the threshold: not kept
_DAY = re.compile(r"^(?:day[-_ ]?)?(\d{1,7})$", re.IGNORECASE)
TOLERANCE = 1e-9  # a served risk and the model's own agree to the last bits


def feed_name(location: str, scheme: str) -> str | None:
    """The model name of ``scheme`` + NAME (``predictions://sepsis-risk``), else ``None``."""
    if not location.startswith(scheme):
        return None
    return check_model_name(location[len(scheme) :], f"{scheme}NAME's name")


def window_day(window: str) -> int:
    """The day of a window named ``N`` or ``day-N`` (also ``day_NNNN``, as the simulator's
    daily files): the rows whose hour ``// 24`` is that day."""
    found = _DAY.match(window.strip())
    if found is None:
        raise DriftInputError(
            f"window {window[:40]!r} is not a day of the rows' clock; a window of the prediction "
            "log or the label feed is N or day-N: the rows whose hour // 24 is N"
        )
    return int(found.group(1))


def is_served(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` is a window of the prediction log (it holds the served columns)."""
    return all(c in frame.columns for c in SERVED_COLUMNS)


def served_rows(
    state: StateLocation, model_name: str, *, id_column: str, time_column: str
) -> pd.DataFrame:
    """Every row the server answered for ``model_name``, each ``(id, hour)`` once, as first
    answered (segment digests checked; refused requests skipped)."""
    if not id_column or not time_column:
        raise DriftInputError(
            "a window of the prediction log needs the id and the time column (id_column, "
            "time_column): they key each answered row"
        )
    rows = answered_rows(read_prediction_log(state, model_name))
    if rows.empty:
        raise DriftInputError(
            f"the prediction log of {model_name} at {state.location} holds no answered request"
        )
    for column in (id_column, time_column):
        if column not in rows.columns:
            raise DriftInputError(
                f"the answered rows of {model_name} have no column {column[:40]!r}; give the "
                "id and time columns of the model's contract"
            )
        if rows[column].isna().any():
            raise DriftInputError(f"answered rows of {model_name} lack a {column}")
    return rows.drop_duplicates([id_column, time_column], keep="first").reset_index(drop=True)


def served_window(
    state: StateLocation, model_name: str, window: str, *, id_column: str, time_column: str
) -> pd.DataFrame:
    """The answered rows of day ``window`` (their inputs, the served ``risk``, ``model`` and
    ``request_id``), sorted by id and hour."""
    day = window_day(window)
    rows = served_rows(state, model_name, id_column=id_column, time_column=time_column)
    hours = rows[time_column].to_numpy()
    chosen = rows[(hours >= 24 * day) & (hours < 24 * (day + 1))]
    if chosen.empty:
        raise DriftInputError(
            f"the prediction log of {model_name} holds no answered row of window {window} "
            f"({time_column} {24 * day} to {24 * day + 23}); give a day the server answered"
        )
    chosen = chosen.drop(columns=[_ALERT], errors="ignore")
    return chosen.sort_values([id_column, time_column], kind="stable").reset_index(drop=True)


def earlier_rows(
    state: StateLocation, window: pd.DataFrame, *, id_column: str, time_column: str
) -> pd.DataFrame:
    """The logged rows of the window's stays before each stay's first hour in the window: the
    hours the server saw in front of them (inputs only)."""
    model_name = str(window[SERVED_MODEL].iloc[0]).partition("@")[0]
    rows = served_rows(state, model_name, id_column=id_column, time_column=time_column)
    first = window.groupby(id_column)[time_column].min()
    before = rows[id_column].map(first)
    keep = before.notna().to_numpy() & (rows[time_column].to_numpy() < before.to_numpy())
    inputs = [c for c in window.columns if c not in SERVED_COLUMNS]
    return rows.loc[keep, inputs].reset_index(drop=True)


def check_served_model(window: pd.DataFrame, model_id: str, name: str) -> None:
    """Every row of the window was answered by ``model_id``: the scores it holds are that
    model's to monitor."""
    answered = window[SERVED_MODEL].astype(str).value_counts()
    others = [m for m in answered.index if m != model_id]
    if others:
        shown = ", ".join(f"{m} ({answered[m]} rows)" for m in answered.index[:4])
        raise DriftInputError(
            f"window {name} was answered by {shown}, not all by the monitored model "
            f"{model_id}; monitor the version that served it (model_ref)"
        )


def check_served_scores(
    score: Callable[[pd.DataFrame], Array],
    window: pd.DataFrame,
    earlier: pd.DataFrame | None,
    *,
    id_column: str,
    time_column: str,
    model_id: str,
) -> dict[str, Any]:
    """Score the window's rows again with the model (the same stays' earlier logged hours in
    front) and compare with the served risks: any difference means the server did not answer
    with this model, or the log does not hold what it answered."""
    inputs = window.drop(columns=list(SERVED_COLUMNS))
    if earlier is not None and len(earlier):
        both = pd.concat([earlier, inputs], ignore_index=True)
        own = np.asarray(score(both), dtype=float)[len(earlier) :]
    else:
        own = np.asarray(score(inputs), dtype=float)
    served = window[SERVED_RISK].to_numpy(dtype=float)
    gap = np.abs(own - served)
    differ = ~(gap <= TOLERANCE)  # NaN on either side differs
    result: dict[str, Any] = {
        "model": model_id,
        "rows": len(window),
        "differ": int(differ.sum()),
        "max_difference": float(np.nanmax(gap)) if np.isfinite(gap).any() else None,
        "first": None,
    }
    if differ.any():
        i = int(np.flatnonzero(differ)[0])
        row = window.iloc[i]
        result["first"] = (
            f"{id_column} {row[id_column]} {time_column} {row[time_column]}: served "
            f"{served[i]:.6g}, {model_id} gives {own[i]:.6g} (request {row[SERVED_REQUEST]})"
        )
    return result


def served_scores_alert(check: dict[str, Any], window: str, model_id: str) -> Alert | None:
    """A critical alert when a served risk is not the registered model's own score."""
    if not check["differ"]:
        return None
    largest = check["max_difference"]
    return Alert(
        severity="critical",
        kind="served_scores",
        window=window,
        features=("model score",),
        evidence=(
            f"{check['differ']} of {check['rows']} served risks differ from {model_id}'s own "
            f"scores of the same rows (largest difference "
            f"{'not a number' if largest is None else format(largest, '.3g')}; "
            f"{check['first']}): the server did not answer with the registered model, or the "
            "prediction log does not hold what it answered",
        ),
        model=model_id,
    )
