"""Ingest refuses bad input with one exact message and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from samdops.config import TrainingConfig
from samdops.digest import sha256_file
from samdops.errors import DataContractError, DigestMismatch, InputFormatError
from samdops.training.ingest import ingest
from tests.bad_inputs import BAD_INPUTS, BadInput
from tests.conftest import PIMA_CSV, PIMA_SHA256


def test_shipped_data_has_the_published_digest() -> None:
    assert sha256_file(PIMA_CSV) == PIMA_SHA256


def test_ingest_turns_pima_zeros_into_missing(tmp_path: Path, pima_config: TrainingConfig) -> None:
    result = ingest(
        PIMA_CSV, pima_config.contract, tmp_path / "d.parquet", expected_sha256=PIMA_SHA256
    )
    table = pd.read_parquet(result.path)
    assert result.rows == 768
    assert result.source_sha256 == PIMA_SHA256
    assert result.sha256 == sha256_file(result.path)
    assert result.missing == {
        "Glucose": 5,
        "BloodPressure": 35,
        "SkinThickness": 227,
        "Insulin": 374,
        "BMI": 11,
    }
    assert (
        table[["Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI"]] == 0
    ).sum().sum() == 0
    assert table["Outcome"].value_counts().to_dict() == {0: 500, 1: 268}
    assert str(table["Age"].dtype) == "int64" and str(table["Glucose"].dtype) == "float64"


def test_ingest_is_deterministic(tmp_path: Path, pima_config: TrainingConfig) -> None:
    a = ingest(PIMA_CSV, pima_config.contract, tmp_path / "a.parquet")
    b = ingest(PIMA_CSV, pima_config.contract, tmp_path / "b.parquet")
    assert a.sha256 == b.sha256


@pytest.mark.parametrize("case", BAD_INPUTS, ids=lambda c: c.id)
def test_bad_input_is_refused_with_exact_message(
    case: BadInput, tmp_path: Path, pima_config: TrainingConfig
) -> None:
    source = tmp_path / f"{case.id}.csv"
    source.write_bytes(case.content())
    out = tmp_path / "out.parquet"
    with pytest.raises((DataContractError, InputFormatError)) as info:
        ingest(source, pima_config.contract, out)
    assert str(info.value) == case.error.format(path=source)
    assert not out.exists()


def test_digest_other_than_requested_is_refused(
    tmp_path: Path, pima_config: TrainingConfig
) -> None:
    wanted = "sha256:" + "0" * 64
    out = tmp_path / "out.parquet"
    with pytest.raises(DigestMismatch) as info:
        ingest(PIMA_CSV, pima_config.contract, out, expected_sha256=wanted)
    assert str(info.value) == (
        f"dataset {PIMA_CSV} has digest {PIMA_SHA256}, expected {wanted}; "
        "the file changed or the wrong file was given"
    )
    assert not out.exists()


def test_missing_file_is_a_clear_error(tmp_path: Path, pima_config: TrainingConfig) -> None:
    with pytest.raises(InputFormatError, match=r"input file .*nope.csv does not exist"):
        ingest(
            tmp_path / "nope.csv",
            pima_config.contract,
            tmp_path / "o.parquet",
            expected_sha256=PIMA_SHA256,
        )


def test_parquet_input_is_accepted(tmp_path: Path, pima_config: TrainingConfig) -> None:
    raw = pd.read_csv(PIMA_CSV)
    parquet = tmp_path / "pima.parquet"
    raw.to_parquet(parquet, index=False)
    result = ingest(parquet, pima_config.contract, tmp_path / "o.parquet")
    assert result.rows == 768


def test_unexpected_column_is_refused(tmp_path: Path, pima_config: TrainingConfig) -> None:
    raw = pd.read_csv(PIMA_CSV).assign(Cholesterol=180)
    source = tmp_path / "extra.csv"
    raw.to_csv(source, index=False)
    with pytest.raises(DataContractError, match=r"^unexpected column\(s\) Cholesterol; contract"):
        ingest(source, pima_config.contract, tmp_path / "o.parquet")


def test_too_much_missingness_is_refused(tmp_path: Path, pima_config: TrainingConfig) -> None:
    raw = pd.read_csv(PIMA_CSV)
    raw.loc[:99, "Glucose"] = 0
    source = tmp_path / "missing.csv"
    raw.to_csv(source, index=False)
    with pytest.raises(DataContractError) as info:
        ingest(source, pima_config.contract, tmp_path / "o.parquet")
    assert str(info.value) == (
        "column 'Glucose' is 13.5% missing, more than the 5.0% the contract allows"
    )


def test_label_outside_zero_one_is_refused(tmp_path: Path, pima_config: TrainingConfig) -> None:
    raw = pd.read_csv(PIMA_CSV)
    raw.loc[10, "Outcome"] = 2
    source = tmp_path / "label.csv"
    raw.to_csv(source, index=False)
    with pytest.raises(DataContractError) as info:
        ingest(source, pima_config.contract, tmp_path / "o.parquet")
    assert str(info.value) == (
        "column 'Outcome' must be 0 or 1, but data row(s) 11 hold values such as 2"
    )
