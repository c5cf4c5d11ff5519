"""Tables: the format is told from the content; Parquet output is deterministic."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from samdops.errors import InputFormatError
from samdops.tables import read_table, write_parquet


def test_parquet_output_is_byte_identical(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, None, 2.5]})
    assert write_parquet(frame, tmp_path / "x") == write_parquet(frame, tmp_path / "y")
    assert (tmp_path / "x").read_bytes() == (tmp_path / "y").read_bytes()


def test_parquet_named_csv_is_read_as_parquet(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    write_parquet(pd.DataFrame({"a": [1], "b": [2]}), path)
    assert read_table(path).to_dict("list") == {"a": [1], "b": [2]}


def test_single_column_text_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("this is a letter\nnot a table\n")
    with pytest.raises(InputFormatError, match="is not a comma-separated table"):
        read_table(path)


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="is a directory, not a CSV or Parquet file"):
        read_table(tmp_path)


def test_corrupt_parquet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1" + b"\x00garbage" * 10)
    with pytest.raises(InputFormatError, match="is not a readable Parquet file"):
        read_table(path)


def test_a_column_named_twice_is_refused_by_its_own_name(tmp_path: Path) -> None:
    # pandas would rename the second to 'Glucose.1', a name that is not in the file
    path = tmp_path / "export.csv"
    path.write_text("Pregnancies,Glucose,Glucose,Age\n1,85,85,31\n")
    with pytest.raises(
        InputFormatError, match=rf"^{path} names column\(s\) 'Glucose' more than once$"
    ):
        read_table(path)
