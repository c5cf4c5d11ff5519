"""The sepsis model through the training machinery: config, reference data, named transforms,
the stay id as a group column, the split by stay, grouped CV and bootstrap, baseline metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from samdops.config import (
    DataContract,
    EvaluationConfig,
    TrainingConfig,
    default_config_path,
    load_config,
    packaged_config_path,
    resolve_config_path,
)
from samdops.digest import sha256_bytes, sha256_file
from samdops.errors import ConfigError, DataContractError, ValidationFailed
from samdops.features.sepsis_hourly import FEATURES, sepsis_features
from samdops.features.transforms import TRANSFORM_NAMES, get_transform
from samdops.hospital.columns import LABEL, STAY_ID
from samdops.sepsis import reference
from samdops.training.contract import apply_contract
from samdops.training.evaluate import _group
from samdops.training.metrics import alert_rate, bootstrap, calibration_line, ppv
from samdops.training.split import split_frame
from samdops.training.train import cv_folds, model_inputs
from samdops.validation import ValidationReport, validate_split

SEPSIS_YAML = packaged_config_path("sepsis")


@pytest.fixture(scope="module")
def config() -> TrainingConfig:
    return load_config(SEPSIS_YAML)


@pytest.fixture(scope="module")
def rows(config: TrainingConfig) -> pd.DataFrame:
    return pd.read_parquet(config.data.path)


def _sepsis_yaml(tmp_path: Path, **changes: object) -> Path:
    raw = yaml.safe_load(SEPSIS_YAML.read_text())
    raw["contract"] = yaml.safe_load((SEPSIS_YAML.parent / raw["contract"]).read_text())
    raw["data"]["path"] = str(Path(load_config(SEPSIS_YAML).data.path))
    for dotted, value in changes.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path = tmp_path / "sepsis.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


# -- the reference data and its config -----------------------------------------------------------


def test_regenerating_the_reference_data_gives_the_pinned_digest(config: TrainingConfig) -> None:
    # If this fails after a change to the hospital simulator: run `make sepsis-data`.
    assert config.data.sha256 == sha256_bytes(reference.reference_bytes())
    assert sha256_file(config.data.path) == config.data.sha256
    assert Path(config.data.path).name == reference.DATA_FILE


def test_contract_declares_exactly_the_reference_columns(
    config: TrainingConfig, rows: pd.DataFrame
) -> None:
    declared = [c.name for c in config.contract.columns]
    assert declared == list(rows.columns) == list(reference.COLUMNS)
    transform = config.transform()
    assert transform is not None
    assert set(declared) == {*transform.inputs, config.contract.label}
    assert config.contract.group == STAY_ID == transform.group
    assert STAY_ID not in config.contract.feature_names


def test_reference_rows_pass_the_contract(config: TrainingConfig, rows: pd.DataFrame) -> None:
    checked = apply_contract(rows, config.contract)
    assert len(checked) == len(rows) > 15_000
    assert str(checked[STAY_ID].dtype) == "int64"
    assert checked["Lactate"].isna().mean() > 0.85  # labs mostly missing is allowed
    stays = checked.groupby(STAY_ID)[LABEL].max()
    assert int(stays.sum()) >= 15 and len(stays) > 400


def test_sepsis_config_trains_on_the_transform_outputs(config: TrainingConfig) -> None:
    assert config.features == "sepsis_hourly"
    assert config.model_features == FEATURES
    assert TrainingConfig.from_json(config.to_json()) == config
    assert set(config.evaluation.metrics) >= {
        "auroc",
        "calibration_slope",
        "calibration_intercept",
        "alert_rate",
        "ppv",
    }


def test_pima_config_has_no_transform_and_keeps_its_features() -> None:
    pima = load_config(default_config_path())
    assert pima.features is None and pima.transform() is None
    assert pima.contract.group is None
    assert pima.model_features == pima.contract.feature_names
    frame = pd.DataFrame({"a": [1.0]})
    assert model_inputs(frame, pima) is frame


def test_config_names_resolve_to_packaged_configs(tmp_path: Path) -> None:
    assert resolve_config_path("sepsis") == SEPSIS_YAML
    assert resolve_config_path(None) == default_config_path() == resolve_config_path("pima")
    assert resolve_config_path("sepsis-contract") == Path("sepsis-contract")  # not a config
    mine = tmp_path / "mine.yaml"
    assert resolve_config_path(mine) == mine


# -- named transforms ----------------------------------------------------------------------------


def test_unknown_transform_is_a_config_error_naming_the_known_ones(tmp_path: Path) -> None:
    path = _sepsis_yaml(tmp_path, features="samdops.evil:run")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: features: Value error, unknown feature transform 'samdops.evil:run'; samdops "
        "knows: sepsis_hourly (set `features:` to one of them, or leave it out to train on the "
        "contract's columns) (got 'samdops.evil:run')"
    )
    with pytest.raises(ConfigError, match="unknown feature transform 'nope'"):
        get_transform("nope")
    assert TRANSFORM_NAMES == ("sepsis_hourly",)


def test_transform_needs_its_group_and_inputs_in_the_contract(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="set the contract's group to 'patient_id'"):
        load_config(_sepsis_yaml(tmp_path, **{"contract.group": None}))
    raw = yaml.safe_load(SEPSIS_YAML.read_text())
    contract = yaml.safe_load((SEPSIS_YAML.parent / raw["contract"]).read_text())
    contract["columns"] = [c for c in contract["columns"] if c["name"] != "Lactate"]
    with pytest.raises(ConfigError, match=r"needs column\(s\) \['Lactate'\] that contract"):
        load_config(_sepsis_yaml(tmp_path, contract=contract))


def test_transform_output_is_aligned_with_its_input(rows: pd.DataFrame) -> None:
    transform = get_transform("sepsis_hourly")
    window = rows.iloc[:3000].sample(frac=1.0, random_state=0)  # shuffled rows
    out = transform.apply(window)
    assert list(out.columns) == list(FEATURES)
    assert out.index.equals(window.index)
    expected = sepsis_features(window).loc[window.index, list(FEATURES)]
    pd.testing.assert_frame_equal(out, expected)
    with pytest.raises(DataContractError) as info:
        transform.apply(window.drop(columns=["HR"]))
    assert (
        str(info.value)
        == "feature transform sepsis_hourly needs column(s) HR, which the data lacks"
    )


# -- the stay id as a declared group column ------------------------------------------------------


def _stay_contract(group: str | None, id_column: str = "patient_id") -> DataContract:
    return DataContract.model_validate(
        {
            "name": "stays",
            "version": 1,
            "label": "y",
            "group": group,
            "columns": [
                {"name": id_column, "dtype": "integer", "min": 0},
                {"name": "x", "dtype": "float"},
                {"name": "y", "dtype": "binary"},
            ],
        }
    )


def _csv_rows(id_column: str = "patient_id") -> pd.DataFrame:
    # As read from CSV: strings. Eleven-digit stay numbers look like phone numbers.
    return pd.DataFrame(
        {id_column: ["20190000017", "20190000017", "20190000018"], "x": ["1.5", "2", "3"]}
    ).assign(y=["0", "1", "0"])


def test_declared_group_column_is_not_refused_as_a_phone_number() -> None:
    checked = apply_contract(_csv_rows(), _stay_contract("patient_id"))
    assert checked["patient_id"].tolist() == [20190000017, 20190000017, 20190000018]
    with pytest.raises(DataContractError) as info:  # the same column, not declared as the group
        apply_contract(_csv_rows(), _stay_contract(None))
    assert str(info.value) == (
        "column 'patient_id' looks like a direct patient identifier (phone number); PHI must not "
        "enter training: remove or de-identify it before ingest"
    )


def test_declared_group_named_like_an_identifier_is_still_refused() -> None:
    with pytest.raises(DataContractError) as info:
        apply_contract(_csv_rows("MRN"), _stay_contract("MRN", "MRN"))
    assert str(info.value) == (
        "column 'MRN' (declared as the contract's group column) looks like a direct patient "
        "identifier (medical record number); PHI must not enter training: remove or de-identify "
        "it before ingest"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"group": "stay"}, "group 'stay' is not one of the columns"),
        ({"group": "y"}, "the group column cannot be the label"),
        ({"group": "x"}, "group column 'x' must be dtype integer with no missing values"),
    ],
)
def test_contract_group_must_be_an_integer_column_that_is_not_the_label(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    from samdops.config import load_contract

    raw = _stay_contract(None).model_dump(mode="json") | change
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=message):
        load_contract(path)


# -- split and cross-validation by stay ----------------------------------------------------------


def test_split_keeps_every_stay_on_one_side_stratified_and_seeded(
    config: TrainingConfig, rows: pd.DataFrame
) -> None:
    train, test = split_frame(rows, LABEL, config.split, STAY_ID)
    train_stays, test_stays = set(train[STAY_ID]), set(test[STAY_ID])
    assert not train_stays & test_stays
    assert train_stays | test_stays == set(rows[STAY_ID])
    assert len(train) + len(test) == len(rows)
    septic = rows.groupby(STAY_ID)[LABEL].max()
    test_share = septic[sorted(test_stays)].sum() / septic.sum()
    assert test_share == pytest.approx(config.split.test_size, abs=0.05)
    assert len(test_stays) / len(septic) == pytest.approx(config.split.test_size, abs=0.01)
    _, again_test = split_frame(rows, LABEL, config.split, STAY_ID)
    pd.testing.assert_frame_equal(again_test, test)
    other = config.split.model_copy(update={"seed": 1})
    assert set(split_frame(rows, LABEL, other, STAY_ID)[1][STAY_ID]) != test_stays


def test_split_by_stay_needs_two_septic_and_two_other_stays(config: TrainingConfig) -> None:
    frame = pd.DataFrame({STAY_ID: [1, 1, 2, 3, 4], LABEL: [0, 1, 0, 0, 0], "x": range(5)})
    with pytest.raises(DataContractError) as info:
        split_frame(frame, LABEL, config.split, STAY_ID)
    assert str(info.value) == (
        "cannot stratify 'patient_id' groups on 'SepsisLabel': at least 2 groups with a positive "
        "label and 2 without are needed, got {0: 3, 1: 1} (groups by their highest label)"
    )


def test_cross_validation_folds_keep_every_stay_whole(rows: pd.DataFrame) -> None:
    y = rows[LABEL].to_numpy()
    groups = rows[STAY_ID].to_numpy()
    folds = cv_folds(y, 5, 7, groups)
    assert len(folds) == 5
    seen: list[int] = []
    for train_idx, valid_idx in folds:
        assert not set(groups[train_idx]) & set(groups[valid_idx])
        assert y[valid_idx].sum() > 0  # every fold can be scored
        seen += valid_idx.tolist()
    assert sorted(seen) == list(range(len(rows)))
    assert [v.tolist() for _, v in folds] == [v.tolist() for _, v in cv_folds(y, 5, 7, groups)]


# -- the monitor's baseline metrics --------------------------------------------------------------


def test_alert_rate_and_ppv_at_the_threshold() -> None:
    y = np.array([0, 0, 1, 1, 0])
    score = np.array([0.1, 0.6, 0.7, 0.2, 0.5])
    assert alert_rate(y, score, 0.5) == pytest.approx(0.6)
    assert ppv(y, score, 0.5) == pytest.approx(1 / 3)
    assert np.isnan(ppv(y, score, 0.9)) and alert_rate(y, score, 0.9) == 0.0


def test_grouped_bootstrap_resamples_whole_groups() -> None:
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 30, 60)
    groups = np.repeat(np.arange(60), sizes)
    y = np.repeat(rng.uniform(size=60) < 0.3, sizes).astype(int)
    tag = groups.astype(float)  # the "score" of a row is its group, to see what was drawn

    def whole(_: np.ndarray, drawn: np.ndarray) -> float:
        ids, counts = np.unique(drawn, return_counts=True)
        return float(np.all(counts % sizes[ids.astype(int)] == 0))

    def positive_groups(ys: np.ndarray, _: np.ndarray) -> float:
        return float(ys.sum())

    out = bootstrap(
        y,
        tag,
        {"whole": whole, "positives": positive_groups},
        n_resamples=200,
        confidence=0.95,
        seed=5,
        groups=groups,
    )
    assert out["whole"].ci_low == 1.0
    assert out["positives"].ci_low < out["positives"].point < out["positives"].ci_high
    again = bootstrap(
        y, tag, {"whole": whole}, n_resamples=50, confidence=0.9, seed=5, groups=groups
    )
    assert again == bootstrap(
        y, tag, {"whole": whole}, n_resamples=50, confidence=0.9, seed=5, groups=groups
    )


def test_baseline_metrics_are_computed_with_calibration_as_points() -> None:
    rng = np.random.default_rng(11)
    score = rng.beta(1, 12, 3000)
    y = (rng.uniform(size=3000) < score).astype(int)
    groups = np.arange(3000) // 10
    config = EvaluationConfig.model_validate(
        {
            "threshold": 0.2,
            "metrics": ["auroc", "alert_rate", "ppv", "calibration_slope", "calibration_intercept"],
            "bootstrap": {"n_resamples": 100},
        }
    )
    result = _group("overall", y, score, config, groups)
    assert list(result.metrics) == list(config.metrics)
    slope, intercept = calibration_line(y, score)
    assert result.metrics["calibration_slope"].as_dict() == {
        "point": round(slope, 6),
        "ci_low": None,
        "ci_high": None,
    }
    assert result.metrics["calibration_intercept"].point == intercept
    assert result.metrics["alert_rate"].point == float(np.mean(score >= 0.2))
    assert result.metrics["ppv"].point == float(np.mean(y[score >= 0.2]))
    low, high = result.metrics["auroc"].ci_low, result.metrics["auroc"].ci_high
    assert low < result.metrics["auroc"].point < high
    one_class = _group("g", np.zeros(50, dtype=int), score[:50], config, groups[:50])
    assert np.isnan(one_class.metrics["calibration_slope"].point)


def test_criterion_on_a_metric_not_computed_is_refused(tmp_path: Path) -> None:
    criteria = [{"metric": "ppv", "min": 0.2}]
    path = _sepsis_yaml(
        tmp_path, **{"evaluation.metrics": ["auroc"], "evaluation.acceptance": criteria}
    )
    with pytest.raises(ConfigError, match=r"acceptance uses metric\(s\) \['ppv'\] that `metrics`"):
        load_config(path)


# -- validation sees no group id, and refuses a stay on both sides -------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.columns: list[list[str]] = []

    def validate(
        self, train: pd.DataFrame, test: pd.DataFrame, label: str, config: object
    ) -> ValidationReport:
        self.columns += [list(train.columns), list(test.columns)]
        return ValidationReport(suite="recorder", outcomes=(), html=b"<html></html>")


def test_validation_leaves_the_group_out_and_refuses_shared_stays(
    tmp_path: Path, config: TrainingConfig, rows: pd.DataFrame
) -> None:
    train, test = split_frame(rows, LABEL, config.split, STAY_ID)
    train.to_parquet(tmp_path / "train.parquet")
    test.to_parquet(tmp_path / "test.parquet")
    recorder = _Recorder()
    validate_split(
        tmp_path / "train.parquet",
        tmp_path / "test.parquet",
        config.contract,
        config.validation,
        tmp_path / "report.html",
        recorder,
    )
    assert recorder.columns == [[c for c in rows.columns if c != STAY_ID]] * 2
    leaked = pd.concat([test, train[train[STAY_ID] == train[STAY_ID].iloc[0]]])
    leaked.to_parquet(tmp_path / "test.parquet")
    with pytest.raises(ValidationFailed) as info:
        validate_split(
            tmp_path / "train.parquet",
            tmp_path / "test.parquet",
            config.contract,
            config.validation,
            tmp_path / "report.html",
            recorder,
        )
    assert str(info.value) == (
        f"1 patient_id group(s) have rows in both the training and the test set (e.g. "
        f"{train[STAY_ID].iloc[0]}); the split must keep each group on one side"
    )
