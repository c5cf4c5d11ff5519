"""Stratified, seeded train/test split with digests for both sides.

Independent rows are split one by one, stratified by the label. Rows tied together by a group
column (the hours of one ICU stay) are split group by group, stratified by whether the group ever
has a positive label, so that no group has rows on both sides.
"""

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
    df: pd.DataFrame, label: str, config: SplitConfig, group: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``df`` into train and test, stratified by ``label``; same seed, same rows.

    With ``group``, whole groups go to one side, stratified by whether a group is ever positive.
    """
    if group is not None:
        return _split_groups(df, label, config, group)
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


def _split_groups(
    df: pd.DataFrame, label: str, config: SplitConfig, group: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    ever_positive = df.groupby(group, sort=True)[label].max()
    counts = ever_positive.value_counts()
    if len(counts) < 2 or int(counts.min()) < 2:
        raise DataContractError(
            f"cannot stratify {group!r} groups on {label!r}: at least 2 groups with a positive "
            "label and 2 without are needed, got "
            f"{ {int(k): int(v) for k, v in counts.items()} } (groups by their highest label)"
        )
    _, test_groups = train_test_split(
        ever_positive.index.to_numpy(),
        test_size=config.test_size,
        stratify=ever_positive.to_numpy(),
        random_state=config.seed,
        shuffle=True,
    )
    in_test = df[group].isin(test_groups).to_numpy()
    return df[~in_test].reset_index(drop=True), df[in_test].reset_index(drop=True)


def split_dataset(
    dataset: str | Path,
    label: str,
    config: SplitConfig,
    train_out: str | Path,
    test_out: str | Path,
    group: str | None = None,
) -> SplitResult:
    """Split the Parquet ``dataset`` (by ``group`` when given) and write both sides as Parquet."""
    train, test = split_frame(pd.read_parquet(dataset), label, config, group)
    return SplitResult(
        train_path=Path(train_out),
        train_sha256=write_parquet(train, train_out),
        test_path=Path(test_out),
        test_sha256=write_parquet(test, test_out),
        train_rows=len(train),
        test_rows=len(test),
    )
