"""Training is deterministic to the byte and model files are safe, self-describing JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from samdops.config import TrainingConfig
from samdops.errors import DataContractError, VerificationError
from samdops.training.ingest import ingest
from samdops.training.models import load_model
from samdops.training.split import split_frame
from samdops.training.train import cross_validate, fit_model
from tests.conftest import PIMA_CSV


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    from samdops.config import default_config_path, load_config

    config = load_config(default_config_path())
    out = tmp_path_factory.mktemp("data") / "d.parquet"
    ingest(PIMA_CSV, config.contract, out)
    return split_frame(pd.read_parquet(out), "Outcome", config.split)


def test_split_is_stratified_seeded_and_disjoint(
    frames: tuple[pd.DataFrame, pd.DataFrame], pima_config: TrainingConfig
) -> None:
    train, test = frames
    assert (len(train), len(test)) == (614, 154)
    assert abs(train.Outcome.mean() - test.Outcome.mean()) < 0.01
    assert pd.merge(train, test, how="inner").empty
    again = split_frame(pd.concat([train, test]).sort_values("Age"), "Outcome", pima_config.split)
    assert len(again[1]) == 154


@pytest.mark.parametrize("family", ["xgboost", "logistic_regression"])
def test_same_inputs_and_seed_give_the_same_model_bytes(
    family: str, frames: tuple[pd.DataFrame, pd.DataFrame], pima_config: TrainingConfig
) -> None:
    train, _ = frames
    features, cfg = pima_config.contract.feature_names, pima_config.model
    a = fit_model(train, features, "Outcome", cfg, family)  # type: ignore[arg-type]
    b = fit_model(train, features, "Outcome", cfg, family)  # type: ignore[arg-type]
    assert a.to_bytes() == b.to_bytes() and a.sha256 == b.sha256


def test_another_seed_gives_another_xgboost_model(
    frames: tuple[pd.DataFrame, pd.DataFrame], pima_config: TrainingConfig
) -> None:
    train, _ = frames
    features = pima_config.contract.feature_names
    other = pima_config.model.model_copy(update={"seed": 43})
    a = fit_model(train, features, "Outcome", pima_config.model, "xgboost")
    b = fit_model(train, features, "Outcome", other, "xgboost")
    assert a.sha256 != b.sha256


def test_saved_model_predicts_the_same(
    tmp_path: Path, frames: tuple[pd.DataFrame, pd.DataFrame], pima_config: TrainingConfig
) -> None:
    train, test = frames
    model = fit_model(
        train, pima_config.contract.feature_names, "Outcome", pima_config.model, "xgboost"
    )
    digest = model.save(tmp_path / "m.json")
    loaded = load_model(tmp_path / "m.json")
    assert loaded.sha256 == digest == model.sha256
    np.testing.assert_array_equal(loaded.predict_proba(test), model.predict_proba(test))


def test_linear_model_file_matches_sklearn_pipeline(
    frames: tuple[pd.DataFrame, pd.DataFrame], pima_config: TrainingConfig
) -> None:
    train, test = frames
    features = list(pima_config.contract.feature_names)
    ours = fit_model(train, tuple(features), "Outcome", pima_config.model, "logistic_regression")
    # scikit-learn run to a tight tolerance: samdops' Newton fit reaches the optimum exactly
    tight = LogisticRegression(max_iter=100_000, tol=1e-12)
    reference = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), tight).fit(
        train[features], train.Outcome
    )
    np.testing.assert_allclose(
        ours.predict_proba(test), reference.predict_proba(test[features])[:, 1], atol=1e-6
    )


def test_cross_validation_reaches_the_literature(
    frames: tuple[pd.DataFrame, pd.DataFrame], pima_config: TrainingConfig
) -> None:
    train, _ = frames
    cv = cross_validate(
        train, pima_config.contract.feature_names, "Outcome", pima_config.model, "xgboost", 5
    )
    assert len(cv.auroc_per_fold) == 5
    assert 0.78 < cv.mean < 0.90


def test_model_file_refuses_foreign_documents(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"format": "pickle"}')
    with pytest.raises(VerificationError, match=r"is not a samdops\.model/v1 model file"):
        load_model(path)


def test_single_class_training_data_is_refused(
    frames: tuple[pd.DataFrame, pd.DataFrame], pima_config: TrainingConfig
) -> None:
    train, _ = frames
    with pytest.raises(DataContractError, match="must hold both classes"):
        fit_model(
            train[train.Outcome == 0],
            pima_config.contract.feature_names,
            "Outcome",
            pima_config.model,
            "xgboost",
        )
