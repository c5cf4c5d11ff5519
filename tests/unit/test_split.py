"""The split draws the same test rows as scikit-learn's stratified ``train_test_split``, so
models trained before the ingest step stopped importing scikit-learn keep their bytes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from samdops.config import SplitConfig
from samdops.errors import DataContractError
from samdops.training.split import split_frame, stratified_test_positions


def _sklearn_test_positions(y: np.ndarray, test_size: float, seed: int) -> np.ndarray:
    positions = np.arange(len(y))
    _, test = train_test_split(
        positions, test_size=test_size, stratify=y, random_state=seed, shuffle=True
    )
    return np.sort(test)


@pytest.mark.parametrize("seed", [0, 1, 7, 20_261_128])
@pytest.mark.parametrize("test_size", [0.1, 0.2, 0.25, 0.33, 0.5])
@pytest.mark.parametrize(("n", "classes"), [(10, 2), (57, 2), (768, 2), (491, 2), (200, 3)])
def test_same_test_rows_as_scikit_learn(seed: int, test_size: float, n: int, classes: int) -> None:
    rng = np.random.default_rng(seed + n)
    y = rng.integers(0, classes, size=n)
    y[:classes] = np.arange(classes)  # every class present
    y[classes : 2 * classes] = np.arange(classes)  # with at least 2 rows
    if int(np.ceil(test_size * n)) < classes:  # scikit-learn refuses it too
        with pytest.raises(ValueError):
            _sklearn_test_positions(y, test_size, seed)
        with pytest.raises(DataContractError):
            stratified_test_positions(y, test_size, seed)
        return
    expected = _sklearn_test_positions(y, test_size, seed)
    assert np.array_equal(stratified_test_positions(y, test_size, seed), expected)


def test_string_labels_split_as_scikit_learn_does() -> None:
    y = np.array(["neg", "pos", "neg", "neg", "pos", "neg", "neg", "pos", "neg", "neg"] * 7)
    expected = _sklearn_test_positions(y, 0.2, 3)
    assert np.array_equal(stratified_test_positions(y, 0.2, 3), expected)


def test_split_frame_keeps_row_order_and_covers_every_row() -> None:
    df = pd.DataFrame({"x": np.arange(100), "y": [0, 1] * 50})
    train, test = split_frame(df, "y", SplitConfig(test_size=0.2, seed=5))
    assert len(test) == 20 and len(train) == 80
    assert sorted([*train["x"], *test["x"]]) == list(range(100))
    assert list(test["x"]) == sorted(test["x"])
    assert test["y"].mean() == 0.5


def test_too_few_rows_for_the_classes_is_refused() -> None:
    with pytest.raises(DataContractError) as info:
        stratified_test_positions(np.array([0, 0, 1, 1, 2, 2]), 0.1, 0)
    assert str(info.value) == (
        "a split of 6 rows with test_size 0.1 leaves 5 training and 1 test rows, fewer than the "
        "3 classes; change split.test_size"
    )


def test_cross_validation_folds_are_scikit_learns_stratified_k_fold() -> None:
    """The same folds as ``StratifiedKFold(k, shuffle=True, random_state=seed)``: binary and
    three-class labels, rare classes, k from 2 to 7, and folds as many as the rows."""
    import warnings

    from sklearn.model_selection import StratifiedKFold

    from samdops.training.split import stratified_fold_of_each_row

    rng = np.random.default_rng(5)
    for seed in range(200):
        n, k = int(rng.integers(7, 400)), int(rng.integers(2, 8))
        y = (rng.random(n) < rng.uniform(0.05, 0.6)).astype(int)
        if seed % 5 == 0:
            y = rng.integers(0, 3, n)
        if np.all(k > np.bincount(y)):
            continue  # scikit-learn refuses it too: the next test
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a class smaller than k
            expected = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(y, y))
        fold = stratified_fold_of_each_row(y, k, seed)
        for i, (train, test) in enumerate(expected):
            assert np.array_equal(np.flatnonzero(fold == i), test)
            assert np.array_equal(np.flatnonzero(fold != i), train)


def test_too_few_rows_for_the_folds_is_one_clear_error() -> None:
    from samdops.training.split import stratified_fold_of_each_row

    with pytest.raises(DataContractError) as info:
        stratified_fold_of_each_row(np.array([0, 1, 0]), 5, 1)
    assert str(info.value) == (
        "5-fold cross-validation needs at least 5 rows (or groups), got 3; lower "
        "evaluation.cv_folds"
    )
    with pytest.raises(DataContractError) as info:
        stratified_fold_of_each_row(np.array([0, 1, 0, 1, 0, 1]), 5, 1)
    assert str(info.value) == (
        "5-fold cross-validation needs 5 rows (or groups) of some class, got [3, 3]; lower "
        "evaluation.cv_folds"
    )
