"""Crafted bad inputs and the exact one-line error each must produce."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from tests.conftest import PIMA_CSV

CONTRACT = (
    "Pregnancies, Glucose, BloodPressure, SkinThickness, Insulin, BMI, DiabetesPedigreeFunction, "
    "Age, Outcome"
)


def _rows() -> list[list[str]]:
    with open(PIMA_CSV, newline="") as f:
        return [list(r) for r in csv.reader(f)]


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _set(row: int, column: int, value: str) -> bytes:
    rows = _rows()
    rows[row][column] = value
    return _csv(rows)


def _drop_glucose() -> bytes:
    return _csv([r[:1] + r[2:] for r in _rows()])


def _add_column(name: str, value: str) -> bytes:
    rows = _rows()
    return _csv([rows[0] + [name]] + [[*r, value] for r in rows[1:]])


@dataclass(frozen=True)
class BadInput:
    id: str
    content: Callable[[], bytes]
    error: str  # the message, with {path} for the file's path


BAD_INPUTS = (
    BadInput(
        "missing-column",
        _drop_glucose,
        f"missing column(s) Glucose; contract pima-diabetes v1 requires: {CONTRACT}",
    ),
    BadInput(
        "wrong-dtype",
        lambda: _set(5, 1, "abc"),
        "column 'Glucose' must be integer, but data row(s) 5 hold non-numeric values such as 'abc'",
    ),
    BadInput(
        "glucose-2000",
        lambda: _set(3, 1, "2000"),
        "column 'Glucose' has value 2000 mg/dL in data row(s) 3, outside the valid range "
        "[20, 600]; fix the source data or the contract",
    ),
    BadInput(
        "age-negative",
        lambda: _set(7, 7, "-3"),
        "column 'Age' has value -3 years in data row(s) 7, outside the valid range [18, 120]; "
        "fix the source data or the contract",
    ),
    BadInput("empty-file", lambda: b"", "input file {path} is empty"),
    BadInput(
        "header-only",
        lambda: _csv(_rows()[:1]),
        "{path} has a header but no data rows",
    ),
    BadInput(
        "not-csv",
        lambda: bytes(range(256)) * 8,
        "{path} is neither CSV (UTF-8 text) nor Parquet; export the data as CSV or Parquet",
    ),
    BadInput(
        "identifier-name",
        lambda: _add_column("PatientName", "Jane Doe"),
        "column 'PatientName' looks like a direct patient identifier (name); PHI must not enter "
        "training: remove or de-identify it before ingest",
    ),
    BadInput(
        "identifier-ssn-values",
        lambda: _add_column("ref", "123-45-6789"),
        "column 'ref' looks like a direct patient identifier (social security number); PHI "
        "must not enter training: remove or de-identify it before ingest",
    ),
)
