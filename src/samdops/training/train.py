"""Training: XGBoost and a logistic-regression comparator, deterministic to the byte.

Seeds and thread counts come from :class:`~samdops.config.ModelConfig`; with the same data and
config, :func:`fit_model` returns a :class:`~samdops.training.models.ModelFile` with the same bytes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from samdops._types import Array
from samdops.config import ModelConfig, TrainingConfig
from samdops.errors import DataContractError
from samdops.training.logistic import fit_logistic
from samdops.training.metrics import auroc
from samdops.training.models import MODEL_FORMAT, ModelFile, import_xgboost
from samdops.training.split import stratified_fold_of_each_row

Family = Literal["xgboost", "logistic_regression"]


@dataclass(frozen=True)
class CrossValidation:
    """Stratified k-fold AUROC of one model family on the training set."""

    family: str
    folds: int
    auroc_per_fold: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.auroc_per_fold))

    @property
    def std(self) -> float:
        return float(np.std(self.auroc_per_fold, ddof=1))


@dataclass(frozen=True)
class TrainResult:
    model: ModelFile
    comparator: ModelFile
    model_path: Path
    model_sha256: str
    comparator_path: Path
    comparator_sha256: str
    cross_validation: tuple[CrossValidation, ...]


def _xy(frame: pd.DataFrame, features: tuple[str, ...], label: str) -> tuple[Array, Array]:
    missing = [c for c in (*features, label) if c not in frame.columns]
    if missing:
        raise DataContractError(f"training data lacks column(s) {missing}")
    x = frame.loc[:, list(features)].to_numpy(dtype="float64")
    y = frame[label].to_numpy(dtype="int64")
    if len(np.unique(y)) != 2:
        raise DataContractError(f"training label {label!r} must hold both classes 0 and 1")
    return x, y


def fit_model(
    frame: pd.DataFrame, features: tuple[str, ...], label: str, config: ModelConfig, family: Family
) -> ModelFile:
    """Fit one model of ``family`` on ``frame`` and return it as a model file."""
    x, y = _xy(frame, features, label)
    header = {"format": MODEL_FORMAT, "family": family, "features": list(features), "label": label}
    if family == "xgboost":
        return ModelFile({**header, **_fit_xgboost(x, y, features, config)})
    return ModelFile({**header, **_fit_logistic(x, y, config)})


def _fit_xgboost(
    x: Array, y: Array, features: tuple[str, ...], config: ModelConfig
) -> dict[str, object]:
    xgb = import_xgboost()
    p = config.xgboost
    params = {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "tree_method": "hist",
        "max_depth": p.max_depth,
        "eta": p.learning_rate,
        "subsample": p.subsample,
        "colsample_bytree": p.colsample_bytree,
        "min_child_weight": p.min_child_weight,
        "lambda": p.reg_lambda,
        "seed": config.seed,
        "nthread": config.n_threads,
    }
    matrix = xgb.DMatrix(x, label=y, feature_names=list(features), missing=np.nan)
    booster = xgb.train(params, matrix, num_boost_round=p.n_estimators)
    raw = bytes(booster.save_raw(raw_format="json")).decode("utf-8")
    return {"booster": raw, "xgboost_version": xgb.__version__}


def _fit_logistic(x: Array, y: Array, config: ModelConfig) -> dict[str, object]:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column with no value at all
        medians = np.nanmedian(x, axis=0)
    medians = np.where(np.isnan(medians), 0.0, medians)
    filled = np.where(np.isnan(x), medians, x)
    mean = filled.mean(axis=0)
    scale = filled.std(axis=0)
    scale[scale == 0] = 1.0
    p = config.logistic_regression
    coef, intercept = fit_logistic((filled - mean) / scale, y, ridge=1.0 / p.C, max_iter=p.max_iter)
    return {
        "impute_median": medians.tolist(),
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "coef": coef.tolist(),
        "intercept": intercept,
    }


def cv_folds(
    y: Array, folds: int, seed: int, groups: Array | None = None
) -> list[tuple[Array, Array]]:
    """(train rows, validation rows) of each stratified fold; with ``groups``, whole groups go to
    one fold, stratified by whether a group ever has a positive label."""
    if groups is None:
        fold = stratified_fold_of_each_row(y, folds, seed)
        return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(folds)]
    ever_positive = pd.Series(y).groupby(groups, sort=True).max()
    ids = ever_positive.index.to_numpy()
    group_fold = stratified_fold_of_each_row(ever_positive.to_numpy(), folds, seed)
    out = []
    for k in range(folds):
        in_valid = np.isin(groups, ids[group_fold == k])
        out.append((np.flatnonzero(~in_valid), np.flatnonzero(in_valid)))
    return out


def cross_validate(
    frame: pd.DataFrame,
    features: tuple[str, ...],
    label: str,
    config: ModelConfig,
    family: Family,
    folds: int,
    groups: Array | None = None,
) -> CrossValidation:
    """Stratified k-fold AUROC on ``frame`` (seeded by the model seed; see :func:`cv_folds`)."""
    _, y = _xy(frame, features, label)
    scores = []
    for train_idx, valid_idx in cv_folds(y, folds, config.seed, groups):
        model = fit_model(frame.iloc[train_idx], features, label, config, family)
        valid = frame.iloc[valid_idx]
        scores.append(auroc(y[valid_idx], model.predict_proba(valid)))
    return CrossValidation(family=family, folds=folds, auroc_per_fold=tuple(scores))


def train(
    train_path: str | Path,
    features: tuple[str, ...],
    label: str,
    config: ModelConfig,
    model_out: str | Path,
    comparator_out: str | Path,
    cv_folds: int,
    *,
    frame: pd.DataFrame | None = None,
    groups: Array | None = None,
) -> TrainResult:
    """Train the configured model family and the other family as a comparator; save both.

    ``frame`` (the model inputs, already derived from ``train_path``) replaces reading the file;
    ``groups`` keeps each group within one cross-validation fold.
    """
    frame = pd.read_parquet(train_path) if frame is None else frame
    primary: Family = config.family
    other: Family = "logistic_regression" if primary == "xgboost" else "xgboost"
    model = fit_model(frame, features, label, config, primary)
    comparator = fit_model(frame, features, label, config, other)
    cv = tuple(
        cross_validate(frame, features, label, config, f, cv_folds, groups)
        for f in (primary, other)
    )
    return TrainResult(
        model=model,
        comparator=comparator,
        model_path=Path(model_out),
        model_sha256=model.save(model_out),
        comparator_path=Path(comparator_out),
        comparator_sha256=comparator.save(comparator_out),
        cross_validation=cv,
    )


def model_inputs(frame: pd.DataFrame, config: TrainingConfig) -> pd.DataFrame:
    """The rows of ``frame`` as the model sees them: the configured transform's outputs (with
    the label when present), or ``frame`` itself when the config names no transform."""
    transform = config.transform()
    if transform is None:
        return frame
    inputs = transform.apply(frame)
    label = config.contract.label
    return inputs.assign(**{label: frame[label]}) if label in frame.columns else inputs


def train_from_config(
    train_path: str | Path,
    config: TrainingConfig,
    model_out: str | Path,
    comparator_out: str | Path,
) -> TrainResult:
    """Train as the pipeline does: the configured transform, then :func:`train` on its outputs
    (cross-validation folds keep the contract's groups whole)."""
    raw = pd.read_parquet(train_path)
    group = config.contract.group
    return train(
        train_path,
        config.model_features,
        config.contract.label,
        config.model,
        model_out,
        comparator_out,
        config.evaluation.cv_folds,
        frame=model_inputs(raw, config),
        groups=None if group is None else raw[group].to_numpy(),
    )
