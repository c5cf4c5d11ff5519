"""Reading and writing tables: CSV or Parquet in, deterministic Parquet out."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from samdops.atomic import atomic_write_bytes
from samdops.digest import sha256_bytes
from samdops.errors import InputFormatError

_PARQUET_MAGIC = b"PAR1"


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file; the format is told by the content, not trusted from the name."""
    source = Path(path)
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise InputFormatError(f"input file {source} does not exist") from None
    except IsADirectoryError:
        raise InputFormatError(
            f"input {source} is a directory, not a CSV or Parquet file"
        ) from None
    if not data.strip():
        raise InputFormatError(f"input file {source} is empty")
    if data[:4] == _PARQUET_MAGIC:
        try:
            return pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises many types for corrupt files
            raise InputFormatError(
                f"{source} is not a readable Parquet file: {_brief(exc)}"
            ) from None
    return _read_csv(source, data)


def _read_csv(source: Path, data: bytes) -> pd.DataFrame:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFormatError(
            f"{source} is neither CSV (UTF-8 text) nor Parquet; export the data as CSV or Parquet"
        ) from None
    if "\x00" in text:
        raise InputFormatError(f"{source} holds binary data; expected CSV or Parquet")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputFormatError(f"{source} is not valid CSV: {_brief(exc)}") from None
    try:
        header = next(csv.reader(io.StringIO(text, newline=None)), [])
    except csv.Error as exc:
        raise InputFormatError(f"{source} is not valid CSV: {_brief(exc)}") from None
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        names = ", ".join(repr(name[:40]) for name in twice)
        raise InputFormatError(f"{source} names column(s) {names} more than once")
    if len(frame.columns) < 2:
        raise InputFormatError(
            f"{source} is not a comma-separated table: found 1 column named "
            f"{str(frame.columns[0])[:40]!r}"
        )
    if frame.empty:
        raise InputFormatError(f"{source} has a header but no data rows")
    return frame


def _brief(exc: Exception) -> str:
    """A parser's message on one line: pyarrow's and pandas' can span several."""
    return " ".join(str(exc).split())


def parquet_bytes(df: pd.DataFrame) -> bytes:
    """Serialise ``df`` as Parquet, deterministically (no index, fixed writer options)."""
    buffer = io.BytesIO()
    df.to_parquet(buffer, engine="pyarrow", index=False, compression="zstd")
    return buffer.getvalue()


def write_parquet(df: pd.DataFrame, path: str | Path) -> str:
    """Write ``df`` to ``path`` atomically and return the file's sha256 digest."""
    data = parquet_bytes(df)
    atomic_write_bytes(path, data)
    return sha256_bytes(data)
