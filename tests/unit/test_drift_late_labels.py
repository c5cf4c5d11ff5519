"""Late labels: joined to the scores of the windows they describe, counted once, replayed."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pandas as pd
import pytest

from samdops.drift.concept_monitor import ConceptMonitor, ConceptResult
from samdops.errors import DriftInputError
from samdops.monitoring.late_labels import LateLabels

ID, TIME, LABEL = "patient_id", "Time", "SepsisLabel"


def _stream(root: Path, keep: int = 14) -> LateLabels:
    return LateLabels(root, id_column=ID, time_column=TIME, label_column=LABEL, keep=keep)


def _scored(day: int) -> pd.DataFrame:
    hours = range(24 * day, 24 * day + 3)
    return pd.DataFrame(
        {ID: [1, 1, 2], TIME: list(hours), "score": [0.1, 0.2, 0.9], "HR": [80.0, 81.0, 120.0]}
    )


def _labels(*hours: int) -> pd.DataFrame:
    return pd.DataFrame({ID: [1 if h % 24 < 2 else 2 for h in hours], TIME: hours, LABEL: 0})


def test_labels_join_the_scores_of_the_window_they_describe(tmp_path: Path) -> None:
    stream = _stream(tmp_path)
    stream.record_scored("d1", _scored(1))
    stream.record_scored("d2", _scored(2))
    arrived = stream.record_arrived("d2", _labels(24, 25), ["d1"])  # day 1's hours, late
    assert arrived[[ID, TIME, "score", "HR", LABEL]].values.tolist() == [
        [1, 24, 0.1, 80.0, 0],
        [1, 25, 0.2, 81.0, 0],
    ]
    (kept,) = (tmp_path / "arrived" / "d2").iterdir()  # one write-once version
    assert pd.read_parquet(kept).equals(arrived)


def test_a_label_is_counted_by_the_first_window_that_brought_it(tmp_path: Path) -> None:
    stream = _stream(tmp_path)
    stream.record_scored("d1", _scored(1))
    first = stream.record_arrived("d2", _labels(24), ["d1"])
    # The next day's file holds every label known so far: only the new one counts.
    second = stream.record_arrived("d3", _labels(24, 25, 26), ["d1", "d2"])
    assert first[TIME].tolist() == [24] and second[TIME].tolist() == [25, 26]
    again = stream.record_arrived("d3", _labels(24, 25, 26), ["d1", "d2", "d3"])  # a re-run
    assert again.equals(second)


def test_only_the_last_windows_are_read(tmp_path: Path) -> None:
    stream = _stream(tmp_path, keep=2)
    stream.record_scored("d1", _scored(1))
    stream.record_scored("d2", _scored(2))
    arrived = stream.record_arrived("d3", _labels(24, 48), ["d1", "d2"])
    assert arrived[TIME].tolist() == [48]  # d1 is older than the last two windows


def test_window_names_cannot_leave_the_directory(tmp_path: Path) -> None:
    stream = _stream(tmp_path / "labels")
    stream.record_scored("../../etc/x", _scored(1))
    (written,) = (tmp_path / "labels" / "scored").iterdir()
    assert written.name == "_.._etc_x"  # a directory inside, not hidden
    assert [p.name for p in written.iterdir()] == ["000000000001.parquet"]


def test_a_window_run_again_adds_a_version_and_the_newest_counts(tmp_path: Path) -> None:
    stream = _stream(tmp_path)
    stream.record_scored("d1", _scored(1))
    stream.record_scored("d1", _scored(1).assign(score=0.5))
    stream.record_scored("d2", _scored(2))
    arrived = stream.record_arrived("d2", _labels(24), ["d1"])
    assert arrived["score"].tolist() == [0.5]
    assert sorted(p.name for p in (tmp_path / "scored" / "d1").iterdir()) == [
        "000000000001.parquet",
        "000000000002.parquet",
    ]


@pytest.mark.parametrize(
    ("frame", "call", "message"),
    [
        (_scored(1).drop(columns=["score"]), "scored", "scored rows lack column(s) score"),
        (_labels(24).drop(columns=[LABEL]), "labels", "labels lack column(s) SepsisLabel"),
    ],
)
def test_missing_columns_are_named(
    tmp_path: Path, frame: pd.DataFrame, call: str, message: str
) -> None:
    stream = _stream(tmp_path)
    with pytest.raises(DriftInputError) as caught:
        if call == "scored":
            stream.record_scored("d1", frame)
        else:
            stream.record_arrived("d2", frame, ["d1"])
    assert str(caught.value) == message


class _Recorder:
    """Stands in for the concept monitor: records what it is fed, in order."""

    def __init__(self) -> None:
        self.fed: list[list[int]] = []

    def update(self, arrived: pd.DataFrame) -> ConceptResult:
        self.fed.append(arrived[TIME].tolist())
        return ConceptResult(False, len(arrived), 0.8, 0.0, False, False, ())


def test_replay_feeds_the_windows_oldest_first_up_to_this_one(tmp_path: Path) -> None:
    stream = _stream(tmp_path, keep=3)
    for day in (1, 2, 3, 4):
        stream.record_scored(f"d{day}", _scored(day))
    for day, hour in ((2, 24), (3, 48), (4, 72), (5, 96)):
        stream.record_arrived(f"d{day}", _labels(hour), [f"d{d}" for d in range(1, day)])
    recorder = _Recorder()
    past = ["d1", "d2", "d3", "d4"]
    result = stream.replay(cast(ConceptMonitor, recorder), past, "d5")
    assert recorder.fed == [[48], [72], [96]] and result is not None  # the last three windows
    empty = _Recorder()
    stream.record_arrived("d6", _labels(), past)  # nothing arrived today
    assert stream.replay(cast(ConceptMonitor, empty), [*past, "d5"], "d6") is None
