"""Reading monitored tables (Parquet or CSV) with one clear error, and no more rows than the
configured limit (``$SAMDOPS_MONITOR_MAX_ROWS``), checked before the table is loaded."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from samdops.errors import DriftInputError
from samdops.settings import MONITOR_MAX_ROWS_ENV, monitor_max_rows


def read_table(path: Path, what: str) -> pd.DataFrame:
    """A Parquet or CSV file as a frame, or a one-line :class:`DriftInputError`."""
    if path.is_dir():
        raise DriftInputError(f"{what} file {path} is a directory; give a .parquet or .csv file")
    if not path.is_file():
        raise DriftInputError(f"{what} file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv"):
        raise DriftInputError(f"{what} file {path} must be .parquet or .csv")
    limit = monitor_max_rows()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, nrows=limit + 1)  # one more tells a table too large
            rows = len(frame)
        else:
            import pyarrow.parquet as pq

            rows = pq.ParquetFile(path).metadata.num_rows
            frame = None if rows > limit else pd.read_parquet(path)
    except Exception as exc:  # any reader failure is unreadable input
        reason = str(exc).splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DriftInputError(f"{what} file {path} is unreadable: {reason}") from exc
    if rows > limit or frame is None:
        raise DriftInputError(
            f"{what} file {path} has more than {limit} rows, the monitor's limit "
            f"(${MONITOR_MAX_ROWS_ENV}); monitor a shorter window or raise the limit"
        )
    return frame
