"""What a monitored table must be before it is tested: rows that can be told apart, each tied to
a stay; and the valid ranges the data contract gives its features."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from samdops.config import DataContract
from samdops.drift.scipy_detector import ValidRange
from samdops.errors import DriftInputError


def check_key_columns(id_column: str, time_column: str, admission_column: str) -> None:
    """The stay id, the hour and the hours since admission are three different columns."""
    named = [("id", id_column), ("time", time_column), ("admission", admission_column)]
    given = [(role, column) for role, column in named if column]
    for i, (role, column) in enumerate(given):
        for other, again in given[i + 1 :]:
            if column == again:
                raise DriftInputError(
                    f"the {role} column and the {other} column are both {column[:40]!r}; the id "
                    "column names the stay, the time column its hour: give two different columns"
                )


def check_rows(frame: pd.DataFrame, what: str, id_column: str) -> None:
    """Refuse rows without a stay id and rows that are exact copies of another row (an export
    that repeats rows would weigh those stays twice)."""
    if id_column and id_column in frame.columns:
        no_id = int(frame[id_column].isna().sum())
        if no_id:
            raise DriftInputError(
                f"{what} has {no_id} rows with no {id_column[:40]!r} (stay id); every row must "
                "belong to a stay: fix the export or drop those rows"
            )
    try:
        copies = int(frame.duplicated().sum())
    except TypeError:  # cells pandas cannot hash (lists in a Parquet column) are not data
        raise DriftInputError(
            f"{what} holds cells that are not values (lists or mappings); export plain columns"
        ) from None
    if copies:
        raise DriftInputError(
            f"{what} has {copies} rows that repeat an earlier row exactly; remove the duplicates "
            "(or fix the export) and monitor again"
        )


def contract_ranges(contract: DataContract | None) -> Mapping[str, ValidRange]:
    """The contract's physical limits per column (none without a contract)."""
    if contract is None:
        return {}
    return {
        c.name: ValidRange(c.min, c.max, tuple(c.missing_codes))
        for c in contract.columns
        if c.min is not None or c.max is not None
    }
