"""Ingest: read a raw dataset, check its digest and its data contract, write a typed table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from samdops.config import DataContract
from samdops.digest import sha256_file, verify_file
from samdops.tables import read_table, write_parquet
from samdops.training.contract import apply_contract


@dataclass(frozen=True)
class IngestResult:
    """The typed dataset written by :func:`ingest` and the digests that tie it to its source."""

    path: Path
    sha256: str
    source_sha256: str
    rows: int
    missing: dict[str, int]


def ingest(
    source: str | Path,
    contract: DataContract,
    out: str | Path,
    *,
    expected_sha256: str | None = None,
) -> IngestResult:
    """Check ``source`` (digest, then contract) and write it as typed Parquet to ``out``.

    Missing codes (Pima's zeros) become missing values. Nothing is written when a check fails.
    """
    source_path = Path(source)
    if expected_sha256 is not None and source_path.is_file():
        verify_file(source_path, expected_sha256, what=f"dataset {source_path}")
    raw = read_table(source_path)  # a clear error for a missing, empty or non-tabular file
    source_digest = sha256_file(source_path)
    table = apply_contract(raw, contract)
    digest = write_parquet(table, out)
    missing = {str(c): int(n) for c, n in table.isna().sum().items() if n}
    return IngestResult(
        path=Path(out), sha256=digest, source_sha256=source_digest, rows=len(table), missing=missing
    )
