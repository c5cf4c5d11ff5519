"""Per-stay aggregation: rows of one ICU stay are not independent samples."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd


def stay_summary(
    frame: pd.DataFrame,
    id_column: str,
    features: Sequence[str],
    categorical: Collection[str] = (),
) -> pd.DataFrame:
    """One row per stay: the mean of each feature over the stay's measured hours (NaN if none);
    of a ``categorical`` feature, its most frequent value (the smallest on a tie)."""
    numeric = [f for f in features if f not in categorical]
    summary = frame.groupby(id_column, sort=True)[numeric].mean()
    stays = summary.index
    for name in (f for f in features if f in categorical):
        summary[name] = _most_frequent(frame, id_column, name).reindex(stays)
    return summary[list(features)]


def _most_frequent(frame: pd.DataFrame, id_column: str, name: str) -> pd.Series:
    counts = frame.groupby([id_column, name], sort=True).size().rename("n").reset_index()
    top = counts.sort_values([id_column, "n"], ascending=[True, False], kind="stable")
    return top.drop_duplicates(id_column).set_index(id_column)[name]


def stay_missing_rate(frame: pd.DataFrame, id_column: str, features: Sequence[str]) -> pd.DataFrame:
    """One row per stay: the share of the stay's hours in which each feature is missing."""
    missing = frame[list(features)].isna()
    missing[id_column] = frame[id_column].to_numpy()
    return missing.groupby(id_column, sort=True).mean()


def sample_one_row_per_stay(frame: pd.DataFrame, id_column: str, seed: int) -> pd.DataFrame:
    """One randomly chosen row of each stay (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    shuffled = frame.iloc[order]
    return shuffled.drop_duplicates(subset=id_column, keep="first").sort_values(id_column)
