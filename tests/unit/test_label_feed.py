"""The label feed: confirmed labels checked, stored write-once and content-addressed, read back
by the day they arrived; ``samdops labels ingest`` stores a file, and again stores nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from samdops.config import load_config, packaged_config_path
from samdops.errors import ConfigError, DataContractError, VerificationError
from samdops.governance.service import GovernedRegistry
from samdops.hospital.columns import LABEL, LABEL_ARRIVAL, STAY_ID, TIME
from samdops.monitoring.label_feed import (
    HOSPITAL_COLUMNS,
    LabelColumns,
    LabelFeed,
    check_labels,
)
from samdops.store.state import open_state
from tests.cli_helpers import cli_in_process

DAY = datetime(2026, 12, 3, 10, tzinfo=UTC)


def _labels(rows: list[tuple[int, int, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[STAY_ID, TIME, LABEL, LABEL_ARRIVAL])


GOOD = _labels([(7, 3, 0, 30), (7, 4, 1, 50), (8, 40, 0, 70), (9, 1, 1, 49)])


def test_a_good_batch_is_stored_once_by_its_digest_and_read_by_arrival_day(tmp_path: Path) -> None:
    feed = LabelFeed(tmp_path, "sepsis-risk")
    done = feed.ingest(GOOD, HOSPITAL_COLUMNS, now=DAY)
    assert (done.rows, done.new, done.known) == (4, 4, 0)
    assert done.key is not None and done.key.startswith("labels/sepsis-risk/2026-12-03/")
    data = (tmp_path / done.key).read_bytes()
    assert done.key.endswith(f"/{hashlib.sha256(data).hexdigest()}.parquet")
    assert (tmp_path / done.key).stat().st_mode & 0o222 == 0  # write-once: read-only

    again = LabelFeed(tmp_path, "sepsis-risk")  # a new reader sees the stored batch
    day1, day2 = again.window(1), again.window(2)
    assert list(day1.columns) == [STAY_ID, TIME, LABEL, LABEL_ARRIVAL]
    assert day1[[STAY_ID, TIME]].values.tolist() == [[7, 3]]  # arrived at hour 30
    assert day2[[STAY_ID, TIME]].values.tolist() == [[7, 4], [8, 40], [9, 1]]  # hours 48-71
    assert again.window(0).empty and again.arrived(49, 51)[TIME].tolist() == [4, 1]
    assert day2[LABEL].tolist() == [1, 0, 1]


def test_reingesting_is_a_no_op_and_an_overlap_adds_only_what_is_new(tmp_path: Path) -> None:
    feed = LabelFeed(tmp_path, "sepsis-risk")
    feed.ingest(GOOD, HOSPITAL_COLUMNS, now=DAY)
    same = feed.ingest(GOOD.iloc[::-1], HOSPITAL_COLUMNS, now=DAY)  # any order: the same labels
    assert (same.key, same.new, same.known) == (None, 0, 4)
    later = pd.concat([GOOD, _labels([(9, 2, 1, 75)])])
    added = feed.ingest(later, HOSPITAL_COLUMNS, now=datetime(2026, 12, 4, tzinfo=UTC))
    assert (added.new, added.known) == (1, 4) and added.key is not None
    assert "/2026-12-04/" in added.key
    assert len(LabelFeed(tmp_path, "sepsis-risk").labels()) == 5
    assert len(list((tmp_path / "labels" / "sepsis-risk").rglob("*.parquet"))) == 2


def test_a_label_that_contradicts_a_confirmed_one_is_refused_naming_the_row(
    tmp_path: Path,
) -> None:
    feed = LabelFeed(tmp_path, "sepsis-risk")
    feed.ingest(GOOD, HOSPITAL_COLUMNS, now=DAY)
    changed = _labels([(1, 1, 0, 30), (7, 4, 0, 90)])
    with pytest.raises(DataContractError) as refused:
        feed.ingest(changed, HOSPITAL_COLUMNS, source="labels file x.csv")
    assert str(refused.value) == (
        "labels file x.csv: data row 2: patient_id 7 Time 4 is labelled 0, but the feed already "
        "holds the confirmed label 1; a confirmed label is never changed: remove the row"
    )
    assert len(LabelFeed(tmp_path, "sepsis-risk").labels()) == 4  # nothing stored


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            _labels([(7, 3, 0, 30), (8, 1, 1, 40), (7, 3, 0, 31)]),
            "x: data rows 1 and 3 both label patient_id 7 Time 3; give each patient_id and Time "
            "one label",
        ),
        (
            _labels([(7, 3, 0, 30), (7, 4, 2, 30)]),
            "x: data row 2: SepsisLabel '2' is not 0 or 1; a confirmed label is 0 or 1",
        ),
        (
            _labels([(7, 30, 0, 29)]),
            "x: data row 1: LabelArrival 29 is before Time 30; a label is confirmed at or after "
            "the hour it describes",
        ),
        (
            _labels([(-7, 3, 0, 30)]),
            "x: data row 1: patient_id '-7' is not an integer of 0 or more",
        ),
        (
            GOOD.assign(HR=80.0),
            "x has column(s) 'HR' besides patient_id, Time, SepsisLabel, LabelArrival; a label "
            "file holds only those (no patient data): export just those columns",
        ),
        (
            GOOD.drop(columns=[TIME]),
            "x lacks column(s) Time; a label file holds patient_id, Time, SepsisLabel, "
            "LabelArrival",
        ),
        (GOOD.iloc[:0], "x holds no labels (no data rows)"),
        (
            GOOD.drop(columns=[LABEL_ARRIVAL]),
            "x has no LabelArrival column (the hour, on the Time' clock, each label was "
            "confirmed); add it or give the arrival hour (--arrival HOUR)",
        ),
    ],
)
def test_bad_labels_are_refused_in_one_line_naming_the_row(
    frame: pd.DataFrame, message: str, tmp_path: Path
) -> None:
    with pytest.raises(DataContractError) as refused:
        LabelFeed(tmp_path, "sepsis-risk").ingest(frame, HOSPITAL_COLUMNS, source="x")
    assert str(refused.value) == message
    assert not (tmp_path / "labels").exists()


def test_an_arrival_hour_stands_in_for_a_missing_column_but_not_beside_one() -> None:
    checked = check_labels(GOOD.drop(columns=[LABEL_ARRIVAL]), HOSPITAL_COLUMNS, arrival=100)
    assert checked[LABEL_ARRIVAL].tolist() == [100] * 4
    with pytest.raises(ConfigError, match="has a LabelArrival column and an arrival hour"):
        check_labels(GOOD, HOSPITAL_COLUMNS, arrival=100)


def test_csv_text_reads_as_integers_and_a_model_without_hours_keys_by_id() -> None:
    text = pd.DataFrame({"id": ["3", " 4 ", "5.0"], "y": ["1", "0", "1.0"], LABEL_ARRIVAL: "9"})
    checked = check_labels(text, LabelColumns("id", "", "y"))
    assert checked[["id", "y", LABEL_ARRIVAL]].values.tolist() == [[3, 1, 9], [4, 0, 9], [5, 1, 9]]
    assert str(checked["id"].dtype) == "int64" and str(checked["y"].dtype) == "int8"


def test_a_batch_changed_after_it_was_ingested_is_refused(tmp_path: Path) -> None:
    done = LabelFeed(tmp_path, "sepsis-risk").ingest(GOOD, HOSPITAL_COLUMNS, now=DAY)
    assert done.key is not None
    path = tmp_path / done.key
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(VerificationError) as refused:
        LabelFeed(tmp_path, "sepsis-risk").window(2)
    assert str(refused.value) == f"label batch {done.key} was changed after it was ingested"


def test_the_model_name_must_be_a_plain_name(tmp_path: Path) -> None:
    for name in ("../x", "a/b", "", "sepsis-risk@1"):
        with pytest.raises(ConfigError, match="is not a model name"):
            LabelFeed(tmp_path, name)


# -- samdops labels ingest ------------------------------------------------------------------------


@pytest.fixture
def registered(tmp_path: Path) -> Path:
    """A state where sepsis-risk is registered (its record names the sepsis config)."""
    home = tmp_path / "home"
    governed = GovernedRegistry(home, sinks=[])
    config = load_config(packaged_config_path("sepsis"))
    store = governed.registry.store
    fields = {
        "status": "registered",
        "gate": {"passed": True, "criteria": []},
        "model": {"sha256": "sha256:" + "ab" * 32, "family": "xgboost"},
        "metrics": {},
        "lineage": {"config": {"sha256": store.put_bytes(config.to_json().encode("utf-8"))}},
    }
    governed.register_model(config.name, fields, trained_by="eve", run="labels-test")
    return home


def test_labels_ingest_stores_a_file_and_says_when_it_holds_nothing_new(
    registered: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    csv = tmp_path / "labels.csv"
    GOOD.to_csv(csv, index=False)
    argv = ("labels", "ingest", str(csv), "--model", "sepsis-risk", "--state", str(registered))
    status, out, err = cli_in_process(capsys, monkeypatch, "", *argv)
    assert (status, err) == (0, "")
    (batch,) = (registered / "labels" / "sepsis-risk").rglob("*.parquet")
    key = batch.relative_to(registered)
    assert out == f"ingested 4 labels for sepsis-risk (0 already in the feed): {registered}/{key}\n"
    parquet = tmp_path / "labels.parquet"
    GOOD.to_parquet(parquet)  # the same labels as Parquet: nothing new
    status, out, err = cli_in_process(
        capsys, monkeypatch, "", "labels", "ingest", str(parquet), "--state", str(registered)
    )
    assert (status, err) == (0, "")
    assert out == (
        f"{parquet}: all 4 labels are already in the label feed of sepsis-risk; nothing ingested\n"
    )
    assert LabelFeed(open_state(registered), "sepsis-risk").window(2)[TIME].tolist() == [4, 40, 1]


def test_labels_ingest_refuses_a_model_that_is_not_registered(
    registered: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    csv = tmp_path / "labels.csv"
    GOOD.to_csv(csv, index=False)
    argv = ("labels", "ingest", str(csv), "--model", "other", "--state", str(registered))
    status, out, err = cli_in_process(capsys, monkeypatch, "", *argv)
    assert (status, out) == (2, "")
    assert err.startswith("samdops: error: ") and err.count("\n") == 1 and "other" in err
    assert not (registered / "labels").exists()
