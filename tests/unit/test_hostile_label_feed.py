"""Hostile and careless label files: every one refused in one line naming what is wrong (and
the row), nothing stored; no bytes make the label reader raise anything else."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from samdops.errors import SamdopsError
from samdops.hospital.columns import LABEL, LABEL_ARRIVAL, STAY_ID, TIME
from samdops.monitoring.label_feed import HOSPITAL_COLUMNS, LabelFeed, read_label_file

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

HEADER = f"{STAY_ID},{TIME},{LABEL},{LABEL_ARRIVAL}\n"


def _ingest(tmp_path: Path, data: bytes, name: str = "labels.csv") -> str:
    """The one-line error ingesting ``data`` gives; nothing may be stored."""
    path = tmp_path / name
    path.write_bytes(data)
    feed = LabelFeed(tmp_path / "state", "sepsis-risk")
    with pytest.raises(SamdopsError) as refused:
        feed.ingest(read_label_file(path), HOSPITAL_COLUMNS, source="labels file f")
    message = str(refused.value)
    assert "\n" not in message
    assert not (tmp_path / "state" / "labels").exists()
    return message.replace(str(path), "f")


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("abc,3,0,30", "data row 2: patient_id 'abc' is not an integer of 0 or more"),
        ("7x,3,0,30", "data row 2: patient_id '7x' is not an integer of 0 or more"),
        ("1e3,3,0,30", "data row 2: patient_id '1e3' is not an integer of 0 or more"),
        ("0x10,3,0,30", "data row 2: patient_id '0x10' is not an integer of 0 or more"),
        ("7.5,3,0,30", "data row 2: patient_id '7.5' is not an integer of 0 or more"),
        ("\u0667,3,0,30", "data row 2: patient_id '\u0667' is not an integer of 0 or more"),
        (
            "99999999999999999999,3,0,30",
            "data row 2: patient_id '99999999999999999999' is not an integer of 0 or more",
        ),
        (",3,0,30", "data row 2: patient_id (empty) is not an integer of 0 or more"),
        ("7,three,0,30", "data row 2: Time 'three' is not an integer of 0 or more"),
        ("7,3,yes,30", "data row 2: SepsisLabel 'yes' is not 0 or 1"),
        ("7,3,,30", "data row 2: SepsisLabel (empty) is not 0 or 1"),
        ("7,3,0.5,30", "data row 2: SepsisLabel '0.5' is not 0 or 1"),
        ("7,3,-1,30", "data row 2: SepsisLabel '-1' is not 0 or 1"),
        ("7,3,0,nan", "data row 2: LabelArrival 'nan' is not an integer of 0 or more"),
        ("7,3,0,inf", "data row 2: LabelArrival 'inf' is not an integer of 0 or more"),
    ],
)
def test_a_value_that_is_not_an_id_an_hour_or_a_label_names_its_row(
    row: str, error: str, tmp_path: Path
) -> None:
    data = (HEADER + "8,1,1,30\n" + row + "\n").encode("utf-8")  # the second data row
    assert _ingest(tmp_path, data).startswith(f"labels file f: {error}")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "input file f is empty"),
        (b"\n\n  \n", "input file f is empty"),
        (HEADER.encode(), "f has a header but no data rows"),
        (HEADER.encode("utf-16") + "7,3,0,30\n".encode("utf-16"), "f is neither CSV"),
        ("patient_id,Time,SepsisLabel,LabelArrivé\n7,3,0,30\n".encode("latin-1"), "f is neither"),
        (b"patient_id,Time\x00,SepsisLabel\n7,3,0\n", "f holds binary data"),
        (b"PAR1 this is no parquet", "f is not a readable Parquet file"),
        (
            (HEADER.strip() + f",{LABEL}\n7,3,0,30,1\n").encode(),
            "f names column(s) 'SepsisLabel' more than once",
        ),
        (
            b"patient_id;Time;SepsisLabel;LabelArrival\n7;3;0;30\n",
            "f is not a comma-separated table",
        ),
        (
            (HEADER.strip() + ",HR,Name\n7,3,0,30,80,Jane Doe\n").encode(),
            "labels file f has column(s) 'HR', 'Name' besides patient_id, Time, SepsisLabel, "
            "LabelArrival; a label file holds only those (no patient data)",
        ),
        (
            f"{STAY_ID},{TIME},{LABEL}\n7,3,0\n".encode(),
            "labels file f has no LabelArrival column",
        ),
        (
            (HEADER + "7,3,0,30\n7,3,1,31\n").encode(),
            "labels file f: data rows 1 and 2 both label patient_id 7 Time 3",
        ),
    ],
)
def test_unreadable_or_careless_files_are_refused_in_one_line(
    data: bytes, error: str, tmp_path: Path
) -> None:
    assert _ingest(tmp_path, data).startswith(error)


def test_a_utf8_bom_and_spaces_around_numbers_are_read(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_bytes(("\ufeff" + HEADER + " 7 , 3 ,1, 30\n").encode("utf-8"))
    done = LabelFeed(tmp_path / "state", "sepsis-risk").ingest(
        read_label_file(path), HOSPITAL_COLUMNS
    )
    assert done.new == 1


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


GOOD = {STAY_ID: [7, 8], TIME: [3, 4], LABEL: [0, 1], LABEL_ARRIVAL: [30, 40]}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({STAY_ID: [[7], [8]]}, "data row 1: patient_id '[7]' is not an integer"),
        ({STAY_ID: [7.0, float("nan")]}, "data row 2: patient_id (empty) is not an integer"),
        ({STAY_ID: [True, False]}, "data row 1: patient_id 'True' is not an integer"),
        ({STAY_ID: [b"7", b"8"]}, "data row 1: patient_id "),
        (
            {TIME: pd.to_datetime(["2026-12-01", "2026-12-02"])},
            "data row 1: Time '2026-12-01 00:00:00' is not an integer",
        ),
        ({LABEL: [0.0, 2.0]}, "data row 2: SepsisLabel '2.0' is not 0 or 1"),
        ({LABEL_ARRIVAL: [30, -1]}, "data row 2: LabelArrival '-1' is not an integer"),
        ({"x" * 300: [1, 2]}, "has column(s) '" + "x" * 40 + "' besides"),
    ],
)
def test_parquet_cells_of_the_wrong_kind_are_refused_naming_the_row(
    change: dict[str, object], error: str, tmp_path: Path
) -> None:
    data = _parquet(pd.DataFrame({**GOOD, **change}))
    assert error in _ingest(tmp_path, data, "labels.parquet")


def test_parquet_booleans_are_labels_and_integral_floats_are_ids(tmp_path: Path) -> None:
    path = tmp_path / "labels.parquet"
    path.write_bytes(_parquet(pd.DataFrame({**GOOD, LABEL: [False, True], STAY_ID: [7.0, 8.0]})))
    feed = LabelFeed(tmp_path / "state", "sepsis-risk")
    assert feed.ingest(read_label_file(path), HOSPITAL_COLUMNS).new == 2
    assert feed.labels()[LABEL].tolist() == [0, 1]


def test_a_directory_or_a_missing_file_is_refused(tmp_path: Path) -> None:
    for path, error in ((tmp_path, "is a directory"), (tmp_path / "none.csv", "does not exist")):
        with pytest.raises(SamdopsError, match=error):
            read_label_file(path)


CSV_TEXT = st.lists(
    st.sampled_from(
        [*list(",;\"'\n\r\t 01.e-+\x00\ufeffé"), "7", "30", "nan", "1e999", HEADER, "99" * 12]
    ),
    max_size=60,
).map("".join)
ANY_BYTES = st.one_of(
    st.binary(max_size=200),
    CSV_TEXT.map(lambda t: t.encode("utf-8")),
    CSV_TEXT.map(lambda t: (HEADER + t).encode("utf-8")),
    CSV_TEXT.map(lambda t: t.encode("utf-16")),
    st.binary(max_size=200).map(lambda b: b"PAR1" + b),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=ANY_BYTES)
def test_no_bytes_make_the_label_feed_raise_anything_but_one_line(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "labels.csv"
        path.write_bytes(data)
        feed = LabelFeed(Path(folder) / "state", "sepsis-risk")
        try:
            feed.ingest(read_label_file(path), HOSPITAL_COLUMNS)
        except SamdopsError as exc:
            assert len(str(exc).splitlines()) == 1, str(exc)


def test_a_column_named_twice_is_refused_in_parquet_and_in_a_frame(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [STAY_ID, STAY_ID, TIME, LABEL, LABEL_ARRIVAL]
    table = pa.Table.from_arrays([pa.array([v]) for v in (7, 8, 3, 0, 30)], names=names)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    assert "is not a readable Parquet file" in _ingest(tmp_path, buffer.getvalue(), "l.parquet")
    frame = pd.DataFrame([[7, 8, 3, 0, 30]], columns=names)
    with pytest.raises(SamdopsError, match="names column\\(s\\) 'patient_id' more than once"):
        LabelFeed(tmp_path / "state", "sepsis-risk").ingest(frame, HOSPITAL_COLUMNS)
