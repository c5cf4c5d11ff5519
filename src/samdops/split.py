"""Stratified, seeded train/test split with digests for both sides."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from samdops.config import SplitConfig
from samdops.errors import DataContractError
from samdops.tables import write_parquet


@dataclass(frozen=True)
class SplitResult:
    train_path: Path
    train_sha256: str
    test_path: Path
    test_sha256: str
    train_rows: int
    test_rows: int


def split_frame(
    df: pd.DataFrame, label: str, config: SplitConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``df`` into train and test, stratified by ``label``; same seed, same rows."""
    counts = df[label].value_counts()
    if len(counts) < 2 or int(counts.min()) < 2:
        raise DataContractError(
            f"cannot stratify on {label!r}: each class needs at least 2 rows, got "
            f"{ {int(k): int(v) for k, v in counts.items()} }"
        )
    train, test = train_test_split(
        df, test_size=config.test_size, stratify=df[label], random_state=config.seed, shuffle=True
    )
    return train.sort_index().reset_index(drop=True), test.sort_index().reset_index(drop=True)


def split_dataset(
    dataset: str | Path,
    label: str,
    config: SplitConfig,
    train_out: str | Path,
    test_out: str | Path,
) -> SplitResult:
    """Split the Parquet ``dataset`` and write both sides as Parquet."""
    train, test = split_frame(pd.read_parquet(dataset), label, config)
    return SplitResult(
        train_path=Path(train_out),
        train_sha256=write_parquet(train, train_out),
        test_path=Path(test_out),
        test_sha256=write_parquet(test, test_out),
        train_rows=len(train),
        test_rows=len(test),
    )
