"""Reading monitored tables (Parquet or CSV) with one clear error."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from samdops.errors import DriftInputError


def read_table(path: Path, what: str) -> pd.DataFrame:
    """A Parquet or CSV file as a frame, or a one-line :class:`DriftInputError`."""
    if not path.is_file():
        raise DriftInputError(f"{what} file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv"):
        raise DriftInputError(f"{what} file {path} must be .parquet or .csv")
    try:
        return pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except Exception as exc:  # any reader failure is unreadable input
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DriftInputError(f"{what} file {path} is unreadable: {reason}") from exc
