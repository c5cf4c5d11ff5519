"""Stratified, seeded train/test split with digests for both sides.

Independent rows are split one by one, stratified by the label. Rows tied together by a group
column (the hours of one ICU stay) are split group by group, stratified by whether the group ever
has a positive label, so that no group has rows on both sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from samdops._types import Array
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
    in_test = np.zeros(len(df), dtype=bool)
    in_test[stratified_test_positions(df[label].to_numpy(), config.test_size, config.seed)] = True
    return df[~in_test].reset_index(drop=True), df[in_test].reset_index(drop=True)


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
    positions = stratified_test_positions(ever_positive.to_numpy(), config.test_size, config.seed)
    test_groups = ever_positive.index.to_numpy()[positions]
    in_test = df[group].isin(test_groups).to_numpy()
    return df[~in_test].reset_index(drop=True), df[in_test].reset_index(drop=True)


def stratified_test_positions(y: Array, test_size: float, seed: int) -> Array:
    """The sorted positions of the test side: the rows that scikit-learn's
    ``train_test_split(..., test_size=test_size, stratify=y, random_state=seed, shuffle=True)``
    puts in the test set, drawn with the same random stream (so existing splits, and the models
    trained on them, stay the same), without importing scikit-learn into the ingest step."""
    n_samples = len(y)
    n_test = math.ceil(test_size * n_samples)
    n_train = n_samples - n_test
    classes, y_indices = np.unique(y, return_inverse=True)
    if n_train < len(classes) or n_test < len(classes):
        raise DataContractError(
            f"a split of {n_samples} rows with test_size {test_size} leaves {n_train} training "
            f"and {n_test} test rows, fewer than the {len(classes)} classes; change split.test_size"
        )
    class_counts = np.bincount(y_indices)
    class_indices = np.split(np.argsort(y_indices, kind="mergesort"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(seed)
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    test: list[int] = []
    for i in range(len(classes)):
        chosen = class_indices[i].take(rng.permutation(class_counts[i]), mode="clip")
        test.extend(chosen[n_i[i] : n_i[i] + t_i[i]].tolist())
    result: Array = np.sort(np.asarray(test, dtype=np.int64))
    return result


def stratified_fold_of_each_row(y: Array, folds: int, seed: int) -> Array:
    """The cross-validation fold (0 to ``folds - 1``) of each row: the test folds of
    scikit-learn's ``StratifiedKFold(folds, shuffle=True, random_state=seed)``, drawn with the
    same random stream (so the cross-validation figures stay the same), without importing
    scikit-learn into the step."""
    if folds > len(y):
        raise DataContractError(
            f"{folds}-fold cross-validation needs at least {folds} rows (or groups), got "
            f"{len(y)}; lower evaluation.cv_folds"
        )
    _, first, inverse = np.unique(y, return_index=True, return_inverse=True)
    _, by_appearance = np.unique(first, return_inverse=True)
    encoded = by_appearance[inverse.ravel()]  # classes numbered in order of first appearance
    counts = np.bincount(encoded)
    if np.all(folds > counts):
        raise DataContractError(
            f"{folds}-fold cross-validation needs {folds} rows (or groups) of some class, got "
            f"{counts.tolist()}; lower evaluation.cv_folds"
        )
    ordered = np.sort(encoded)
    allocation = np.asarray(
        [np.bincount(ordered[i::folds], minlength=len(first)) for i in range(folds)]
    )
    rng = np.random.RandomState(seed)
    fold = np.empty(len(y), dtype="i")
    for k in range(len(first)):
        for_class = np.arange(folds).repeat(allocation[:, k])
        rng.shuffle(for_class)
        fold[encoded == k] = for_class
    return fold


def _approximate_mode(class_counts: Array, n_draws: int, rng: np.random.RandomState) -> Array:
    """How many of ``n_draws`` to take from each class: the floor of its share, with the
    remainders given to the largest fractional parts, ties broken at random (as scikit-learn)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (indices,) = np.where(remainder == value)
            add_now = min(len(indices), need_to_add)
            floored[rng.choice(indices, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    result: Array = floored.astype(int)
    return result


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
