"""Labels that arrive days after the hours they describe, joined to the scores the model gave
then, and the concept monitor replayed over the windows that brought them.

A daily run sees the labels confirmed that day, which describe hours of earlier windows. So each
run keeps, per monitored model, next to the window history:

- ``scored/<window>/<n>.parquet``: the window's rows as the model scored them (id, hour when
  rows are hours of a stay, score and the features the concept monitor compares);
- ``arrived/<window>/<n>.parquet``: the scored rows whose labels first arrived in that window.

Both are write-once documents at the state location; a window run again adds version ``n + 1``,
and the newest counts. Only the last ``keep`` windows are read, so memory and time do not grow
with the stream. The concept monitor is replayed over the arrived rows of those windows,
oldest first: a run's concept result is a function of stored inputs, and re-running a window
gives the same result.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from samdops._types import Array
from samdops.drift.concept_monitor import ConceptMonitor, ConceptResult
from samdops.drift.performance import join_keys
from samdops.errors import DriftInputError
from samdops.store.documents import DocumentStore, LocalDocuments, create_next, latest

SCORE = "score"
KEEP_WINDOWS = 14  # labels arrive within 3 days; two weeks covers the monitor's 7-day pools


class LateLabels:
    """The scored and the labelled rows of the last ``keep`` windows of one monitored model.
    Rows are keyed by ``id_column`` and, when not empty, ``time_column``."""

    def __init__(
        self,
        store: DocumentStore | str | Path,
        *,
        prefix: str = "",
        id_column: str,
        time_column: str,
        label_column: str,
        keep: int = KEEP_WINDOWS,
    ) -> None:
        self.store = store if isinstance(store, DocumentStore) else LocalDocuments(store)
        self.prefix = prefix.rstrip("/")
        self.id_column = id_column
        self.time_column = time_column
        self.label_column = label_column
        self.keep = keep

    @property
    def keys(self) -> list[str]:
        """The columns a label joins its scored row on."""
        return join_keys(self.id_column, self.time_column)

    def record_scored(self, window: str, rows: pd.DataFrame) -> None:
        """Keep the window's scored rows (``rows`` has the id, time and score columns)."""
        absent = [c for c in (*self.keys, SCORE) if c not in rows.columns]
        if absent:
            raise DriftInputError(f"scored rows lack column(s) {', '.join(absent)}")
        self._write("scored", window, rows)

    def record_arrived(
        self, window: str, labels: pd.DataFrame, windows: Sequence[str]
    ) -> pd.DataFrame:
        """Join ``labels`` (keys and label) to the scored rows of the recent ``windows``; drop
        the rows whose labels another of those windows already brought; keep and return the
        rest, the labels that first arrived in ``window``."""
        keys = self.keys
        absent = [c for c in (*keys, self.label_column) if c not in labels.columns]
        if absent:
            raise DriftInputError(f"labels lack column(s) {', '.join(absent)}")
        recent = self._recent(windows, window)
        scored = self._read("scored", recent)
        known = labels[[*keys, self.label_column]].drop_duplicates(keys, keep="last")
        if scored is None or known.empty:
            arrived = pd.DataFrame(columns=[*keys, self.label_column, SCORE])
        else:
            scored = scored.drop_duplicates(keys, keep="last")
            arrived = scored.merge(known, on=keys, how="inner")
            earlier = self._read("arrived", [w for w in recent if w != window])
            if earlier is not None:
                seen = pd.MultiIndex.from_frame(earlier[keys])
                arrived = arrived[~pd.MultiIndex.from_frame(arrived[keys]).isin(seen)]
            arrived = arrived.sort_values(keys, kind="stable").reset_index(drop=True)
        self._write("arrived", window, arrived)
        return arrived

    def previous_rows(
        self, windows: Sequence[str], window: str, stays: Array
    ) -> pd.DataFrame | None:
        """The rows of ``stays`` in the last window before ``window``, as they were scored but
        without the score: the hours that features of the window's first hours look back on."""
        before = [w for w in self._recent(windows, window) if w != window][-1:]
        frame = self._read("scored", before)
        if frame is None:
            return None
        rows = frame[frame[self.id_column].isin(stays)].drop(columns=[SCORE])
        return rows if len(rows) else None

    def replay(
        self, monitor: ConceptMonitor, windows: Sequence[str], window: str
    ) -> ConceptResult | None:
        """Feed the fitted ``monitor`` the arrived rows of the recent windows up to ``window``,
        oldest first; its result for ``window`` (``None`` when no labels arrived yet)."""
        result = None
        for name in self._recent(windows, window):
            frame = self._read("arrived", [name])
            if frame is not None and len(frame):
                result = monitor.update(frame)
            elif name == window:
                result = None
        return result

    def _recent(self, windows: Sequence[str], window: str) -> list[str]:
        """The last ``keep`` distinct windows up to and including ``window``, oldest first."""
        order = list(dict.fromkeys(w for w in windows if w != window))
        return [*order, window][-self.keep :]

    def _key(self, kind: str, window: str) -> str:
        return "/".join(p for p in (self.prefix, kind, _safe(window)) if p)

    def _write(self, kind: str, window: str, frame: pd.DataFrame) -> None:
        buffer = io.BytesIO()
        frame.reset_index(drop=True).to_parquet(buffer, index=False)
        data = buffer.getvalue()
        create_next(self.store, self._key(kind, window), "parquet", lambda _: data)

    def _read(self, kind: str, windows: Sequence[str]) -> pd.DataFrame | None:
        frames = []
        for window in windows:
            found = latest(self.store, self._key(kind, window), "parquet")
            if found is not None:
                frame = pd.read_parquet(io.BytesIO(found[1]))
                if len(frame):
                    frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else None


def _safe(window: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", window).lstrip(".") or "_"
