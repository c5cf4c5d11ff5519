"""Property tests: no bytes make the monitor's table readers raise anything but samdops' own
one-line errors (``samdops.monitoring.io`` and ``samdops.tables``; issue #16)."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from samdops.errors import SamdopsError
from samdops.monitoring.io import read_table as read_monitored
from samdops.tables import read_table

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parquet() -> bytes:
    buffer = io.BytesIO()
    frame = pd.DataFrame({"id": [1, 1, 2], "HR": [80.0, None, 90.5], "Unit": ["MICU", "SICU", ""]})
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


PARQUET = _parquet()
# CSV-like text: the characters that make parsers branch (separators, quotes, line ends, NUL,
# a BOM, numbers that overflow) more often than random bytes would.
CSV_TEXT = st.lists(
    st.sampled_from([*list("ab,;\"'\n\r\t 01.e-+\x00\ufeffé"), "inf", "1e999", "nan"]),
    max_size=120,
).map("".join)
MUTATED_PARQUET = st.tuples(
    st.integers(0, len(PARQUET) - 1), st.binary(min_size=1, max_size=8), st.booleans()
).map(lambda m: PARQUET[: m[0]] + m[1] + PARQUET[m[0] + (len(m[1]) if m[2] else 0) :])
ANY_BYTES = st.one_of(
    st.binary(max_size=300),
    CSV_TEXT.map(lambda t: t.encode("utf-8")),
    CSV_TEXT.map(lambda t: t.encode("utf-16")),
    st.binary(max_size=300).map(lambda b: b"PAR1" + b),
    MUTATED_PARQUET,
    st.integers(1, len(PARQUET) - 1).map(lambda n: PARQUET[:n]),
)


def _read(data: bytes, suffix: str, reader: Callable[[Path], object]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"table{suffix}"
        path.write_bytes(data)
        try:
            result = reader(path)
        except SamdopsError as exc:
            assert len(str(exc).splitlines()) == 1, str(exc)
        else:
            assert isinstance(result, pd.DataFrame)


@SETTINGS
@given(data=ANY_BYTES, suffix=st.sampled_from([".csv", ".parquet"]))
def test_the_monitor_reader_raises_only_samdops_errors(data: bytes, suffix: str) -> None:
    _read(data, suffix, lambda path: read_monitored(path, "current"))


@SETTINGS
@given(data=ANY_BYTES, suffix=st.sampled_from([".csv", ".parquet", ".txt"]))
def test_the_table_reader_raises_only_samdops_errors(data: bytes, suffix: str) -> None:
    _read(data, suffix, read_table)


def test_the_strategies_reach_both_formats_and_a_readable_table() -> None:
    """Guard against a vacuous property: the valid Parquet reads, and garbage is refused."""
    _read(PARQUET, ".parquet", lambda path: read_monitored(path, "current"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.parquet"
        path.write_bytes(PARQUET)
        assert list(read_table(path).columns) == ["id", "HR", "Unit"]
        path.write_bytes(PARQUET[:-9])
        with pytest.raises(SamdopsError):
            read_monitored(path, "current")
