"""The label feed: confirmed labels as they arrive, stored write-once for the monitor.

Labels are confirmed hours or days after the hours they describe. Each batch that brings
something new is checked (integer ids and hours, a label of 0 or 1, one label per key, no other
column: a label file carries no patient data) and stored at the state location as one
content-addressed Parquet document,
``labels/<model name>/<YYYY-MM-DD of ingest, UTC>/<sha256 hex>.parquet``, with the columns
``<id>, <time>, <label>, LabelArrival``. ``LabelArrival`` is the hour, on the rows' own clock
(the time column), at which each label was confirmed: a window of the monitor takes the labels
that *arrived* in it (``LabelArrival // 24``), as the simulator's ``labels/day_NNNN.parquet``
files hold them, and the late-labels join matches them to the hours they describe.

A label already in the feed is not stored again: a file ingested twice (or a later export that
repeats earlier rows) adds only what is new, and nothing when nothing is. A label that
contradicts one already confirmed is refused, naming the row. ``samdops labels ingest`` and
``samdops simulate hospital --live`` both ingest through :meth:`LabelFeed.ingest`.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samdops._types import Array
from samdops.clock import utc_now
from samdops.config import TrainingConfig
from samdops.errors import ConfigError, DataContractError, VerificationError
from samdops.hospital.columns import LABEL, LABEL_ARRIVAL, STAY_ID, TIME
from samdops.store.state import StateLocation, open_state
from samdops.tables import parquet_bytes, read_table

PREFIX = "labels"
ARRIVAL = LABEL_ARRIVAL
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BATCH = re.compile(r"^([0-9a-f]{64})\.parquet$")
_INTEGER = re.compile(r"^[+-]?[0-9]{1,19}(?:\.0*)?$")
_INT64 = 2**63


def check_model_name(name: str, what: str = "model name") -> str:
    """``name`` if it can name a model's folder at the state location; else a ConfigError."""
    if not _NAME.match(name):
        raise ConfigError(
            f"{what} {name[:60]!r} is not a model name; give the registered model's name "
            "(letters, digits, '.', '_' and '-', e.g. sepsis-risk)"
        )
    return name


@dataclass(frozen=True)
class LabelColumns:
    """The columns a label is keyed by (the stay, and its hour when rows are hours) and holds."""

    id_column: str
    time_column: str  # "" when a row is not an hour of a stay
    label_column: str

    @property
    def keys(self) -> list[str]:
        return [self.id_column, *([self.time_column] if self.time_column else [])]

    @property
    def stored(self) -> list[str]:
        """The columns of a stored batch, in order."""
        return [*self.keys, self.label_column, ARRIVAL]

    @classmethod
    def for_config(cls, config: TrainingConfig) -> LabelColumns:
        """A registered model's: its contract's group and label, and the hour column when its
        inputs look back over the earlier hours of a stay."""
        contract = config.contract
        if contract.group is None:
            raise ConfigError(
                f"the contract of {config.name} names no group column: its labels cannot be "
                "joined to the rows the model scored"
            )
        return cls(contract.group, TIME if config.features is not None else "", contract.label)


HOSPITAL_COLUMNS = LabelColumns(STAY_ID, TIME, LABEL)


@dataclass(frozen=True)
class Ingested:
    """What one ingest did: the batch stored (``None``: nothing new), and the row counts."""

    key: str | None
    rows: int
    new: int

    @property
    def known(self) -> int:
        return self.rows - self.new


def read_label_file(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet label file (the format told by its content), or one-line error."""
    return read_table(path)


def check_labels(
    frame: pd.DataFrame,
    columns: LabelColumns,
    *,
    source: str = "labels",
    arrival: int | None = None,
) -> pd.DataFrame:
    """The labels of ``frame`` as stored (integer columns, sorted by key, plus the original
    ``_row`` number), or a one-line :class:`DataContractError` naming the first bad row.

    ``frame`` holds the key columns, the label and ``LabelArrival``, nothing else; ``arrival``
    gives every row's arrival hour when ``frame`` has no ``LabelArrival``."""
    names = [str(c) for c in frame.columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataContractError(
            f"{source} names column(s) {', '.join(repr(n[:40]) for n in twice)} more than once"
        )
    allowed = columns.stored
    extra = [n for n in names if n not in allowed]
    if extra:
        shown = ", ".join(repr(n[:40]) for n in extra[:5]) + (", ..." if len(extra) > 5 else "")
        raise DataContractError(
            f"{source} has column(s) {shown} besides {', '.join(allowed)}; a label file holds "
            "only those (no patient data): export just those columns"
        )
    absent = [n for n in allowed[:-1] if n not in names]
    if absent:
        raise DataContractError(
            f"{source} lacks column(s) {', '.join(absent)}; a label file holds {', '.join(allowed)}"
        )
    if frame.empty:
        raise DataContractError(f"{source} holds no labels (no data rows)")
    frame = frame.set_axis(names, axis=1)
    out: dict[str, Any] = {}
    for column in columns.keys:
        out[column] = _integers(frame[column], column, source)
    out[columns.label_column] = _labels(frame[columns.label_column], columns.label_column, source)
    if ARRIVAL in names:
        if arrival is not None:
            raise ConfigError(
                f"{source} has a {ARRIVAL} column and an arrival hour was given too; give one"
            )
        out[ARRIVAL] = _integers(frame[ARRIVAL], ARRIVAL, source)
    elif arrival is None:
        raise DataContractError(
            f"{source} has no {ARRIVAL} column (the hour, on the {columns.time_column or 'rows'}"
            f"' clock, each label was confirmed); add it or give the arrival hour "
            "(--arrival HOUR)"
        )
    else:
        if not 0 <= arrival < _INT64:
            raise ConfigError(f"the arrival hour must be 0 or more; got {arrival}")
        out[ARRIVAL] = np.full(len(frame), arrival, dtype=np.int64)
    checked = pd.DataFrame(out)[allowed]
    checked["_row"] = np.arange(1, len(frame) + 1)
    if columns.time_column:
        early = np.flatnonzero(checked[ARRIVAL] < checked[columns.time_column])
        if len(early):
            row = checked.iloc[early[0]]
            raise DataContractError(
                f"{source}: data row {row['_row']}: {ARRIVAL} {row[ARRIVAL]} is before "
                f"{columns.time_column} {row[columns.time_column]}; a label is confirmed at or "
                "after the hour it describes"
            )
    twice = checked.duplicated(columns.keys, keep=False).to_numpy()
    if twice.any():
        first = checked[twice].iloc[0]
        same = checked[twice & (checked[columns.keys] == first[columns.keys]).all(axis=1)]
        rows = same["_row"].tolist()
        key = " ".join(f"{k} {first[k]}" for k in columns.keys)
        raise DataContractError(
            f"{source}: data rows {rows[0]} and {rows[1]} both label {key}; give each "
            f"{' and '.join(columns.keys)} one label"
        )
    return checked.sort_values(columns.keys, kind="stable").reset_index(drop=True)


class LabelFeed:
    """The labels ingested for one model at one state location."""

    def __init__(self, state: StateLocation | str | Path | None, model_name: str) -> None:
        self.state = open_state(state)
        self.model_name = check_model_name(model_name)
        self.prefix = f"{PREFIX}/{self.model_name}"
        self._batches: list[tuple[str, pd.DataFrame]] | None = None
        self._known: pd.DataFrame | None = None

    # -- reading -------------------------------------------------------------------------------

    def batches(self) -> list[tuple[str, pd.DataFrame]]:
        """Every stored batch as ``(key, frame)``, in key order; each is checked against the
        sha256 its name records (read once per feed object)."""
        if self._batches is None:
            found = []
            for day in self.state.documents.names(self.prefix):
                day = day.rstrip("/")
                if not _DAY.match(day):
                    continue
                for name in self.state.documents.names(f"{self.prefix}/{day}"):
                    if _BATCH.match(name):
                        key = f"{self.prefix}/{day}/{name}"
                        found.append((key, self._read(key)))
            self._batches = found
        return self._batches

    def labels(self) -> pd.DataFrame:
        """Every label of the feed, one per key: the first to arrive (empty: none yet)."""
        if self._known is None:
            batches = self.batches()
            if not batches:
                self._known = pd.DataFrame()
            else:
                columns = list(batches[0][1].columns)
                for key, frame in batches[1:]:
                    if list(frame.columns) != columns:
                        raise VerificationError(
                            f"label batch {key} holds columns {', '.join(map(str, frame.columns))}"
                            f", not {', '.join(columns)} as the feed's other batches"
                        )
                self._known = _first_arrivals(
                    pd.concat([f for _, f in batches], ignore_index=True), columns, self.prefix
                )
        return self._known

    def arrived(self, start_hour: int, end_hour: int) -> pd.DataFrame:
        """The labels that arrived in hours ``[start_hour, end_hour)`` of the rows' clock."""
        known = self.labels()
        if known.empty:
            return known
        hour = known[ARRIVAL]
        return known[(hour >= start_hour) & (hour < end_hour)].reset_index(drop=True)

    def window(self, day: int) -> pd.DataFrame:
        """The labels that arrived on day ``day`` (``LabelArrival // 24 == day``)."""
        return self.arrived(24 * day, 24 * (day + 1))

    # -- ingesting -----------------------------------------------------------------------------

    def ingest(
        self,
        frame: pd.DataFrame,
        columns: LabelColumns,
        *,
        source: str = "labels",
        arrival: int | None = None,
        now: datetime | None = None,
    ) -> Ingested:
        """Check ``frame`` and store the labels the feed does not hold yet, as one batch."""
        checked = check_labels(frame, columns, source=source, arrival=arrival)
        known = self.labels()
        if not known.empty and list(known.columns) != columns.stored:
            raise ConfigError(
                f"the label feed of {self.model_name} holds {', '.join(map(str, known.columns))}"
                f", not {', '.join(columns.stored)}: give the labels of the same model"
            )
        keys, label = columns.keys, columns.label_column
        if known.empty:
            new = checked
        else:
            joined = checked.merge(
                known[[*keys, label]].rename(columns={label: "_known"}), on=keys, how="left"
            )
            held = joined["_known"].notna().to_numpy()
            differ = held & (joined["_known"].to_numpy() != joined[label].to_numpy())
            if differ.any():
                bad = joined[differ].sort_values("_row")
                row = {c: int(bad[c].iloc[0]) for c in ("_row", *keys, label, "_known")}
                key = " ".join(f"{k} {row[k]}" for k in keys)
                raise DataContractError(
                    f"{source}: data row {row['_row']}: {key} is labelled {row[label]}, but "
                    f"the feed already holds the confirmed label {row['_known']}; a "
                    "confirmed label is never changed: remove the row"
                )
            new = checked[~held]
        if new.empty:
            return Ingested(key=None, rows=len(checked), new=0)
        stored = new[columns.stored].reset_index(drop=True)
        data = parquet_bytes(stored)
        day = (now or utc_now()).strftime("%Y-%m-%d")
        key = f"{self.prefix}/{day}/{hashlib.sha256(data).hexdigest()}.parquet"
        self.state.documents.create(key, data)  # False: the same batch is already stored
        batches = self.batches()
        if key not in {k for k, _ in batches}:
            batches.append((key, stored))
        self._known = None
        return Ingested(key=key, rows=len(checked), new=len(stored))

    def _read(self, key: str) -> pd.DataFrame:
        data = self.state.documents.read(key)
        if data is None:  # pragma: no cover - listed a moment ago; documents are never deleted
            raise VerificationError(f"label batch {key} vanished from {self.state.location}")
        if hashlib.sha256(data).hexdigest() != key.rsplit("/", 1)[1].removesuffix(".parquet"):
            raise VerificationError(f"label batch {key} was changed after it was ingested")
        try:
            return pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pragma: no cover - its digest matched what was written
            raise VerificationError(f"label batch {key} is not Parquet: {exc}") from None


def _first_arrivals(frame: pd.DataFrame, columns: Sequence[str], where: str) -> pd.DataFrame:
    """One label per key: its first arrival; two batches that disagree are refused."""
    keys, label = list(columns[:-2]), columns[-2]
    frame = frame.sort_values([ARRIVAL, *keys], kind="stable")
    labels_per_key = frame.groupby(keys)[label].nunique()
    if (labels_per_key > 1).any():
        key = labels_per_key[labels_per_key > 1].index[0]
        shown = " ".join(f"{k} {v}" for k, v in zip(keys, np.atleast_1d(key), strict=True))
        raise VerificationError(
            f"the label feed at {where} holds two different labels for {shown}; "
            "a confirmed label is never changed"
        )
    first = frame.drop_duplicates(keys, keep="first")
    return first.sort_values(keys, kind="stable").reset_index(drop=True)


def _integers(values: pd.Series, column: str, source: str) -> Array:
    out = np.empty(len(values), dtype=np.int64)
    for row, value in enumerate(values.tolist()):
        number = _integer(value)
        if number is None:
            raise DataContractError(
                f"{source}: data row {row + 1}: {column} {_shown(value)} is not an integer "
                "of 0 or more"
            )
        out[row] = number
    return out


def _integer(value: object) -> int | None:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer() or abs(value) >= _INT64:
            return None
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _INTEGER.match(text):
            return None
        number = int(text.split(".", 1)[0])
    else:
        return None
    return number if 0 <= number < _INT64 else None


def _labels(values: pd.Series, column: str, source: str) -> Array:
    out = np.empty(len(values), dtype=np.int8)
    for row, value in enumerate(values.tolist()):
        number = int(value) if isinstance(value, bool) else _integer(value)
        if number not in (0, 1):
            raise DataContractError(
                f"{source}: data row {row + 1}: {column} {_shown(value)} is not 0 or 1; a "
                "confirmed label is 0 or 1"
            )
        out[row] = number
    return out


def _shown(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "(empty)"
    text = str(value)
    return repr(text[:40] + ("..." if len(text) > 40 else ""))
