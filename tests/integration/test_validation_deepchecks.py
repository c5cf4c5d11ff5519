"""Validation with the real deepchecks engine: a clean split passes, a leaky one is stopped."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from samdops.config import TrainingConfig, ValidationConfig
from samdops.errors import ValidationFailed
from samdops.tables import write_parquet
from samdops.training.ingest import ingest
from samdops.training.split import split_dataset
from samdops.validation import CheckOutcome, ValidationReport, validate_split
from tests.conftest import PIMA_CSV


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from samdops.config import default_config_path, load_config

    config = load_config(default_config_path())
    base = tmp_path_factory.mktemp("split")
    ingest(PIMA_CSV, config.contract, base / "data")
    result = split_dataset(base / "data", "Outcome", config.split, base / "train", base / "test")
    return result.train_path, result.test_path


def test_clean_split_passes_and_saves_a_self_contained_report(
    split: tuple[Path, Path], tmp_path: Path, pima_config: TrainingConfig
) -> None:
    report = validate_split(
        *split, pima_config.contract, pima_config.validation, tmp_path / "report.html"
    )
    assert report.passed
    names = " ".join(o.check for o in report.outcomes)
    for check in (
        "Data Duplicates",
        "Conflicting Labels",
        "Train Test Samples Mix",
        "Feature Drift",
        "Label Drift",
        "Feature Label Correlation Change",
    ):
        assert check in names
    html = (tmp_path / "report.html").read_bytes()
    assert html == report.html and b"<html" in html[:2000].lower()


def test_validation_outcome_is_deterministic(
    split: tuple[Path, Path], tmp_path: Path, pima_config: TrainingConfig
) -> None:
    a = validate_split(*split, pima_config.contract, pima_config.validation, tmp_path / "a")
    b = validate_split(*split, pima_config.contract, pima_config.validation, tmp_path / "b")
    assert a.outcomes == b.outcomes


def test_test_rows_leaked_into_training_stop_the_run(
    split: tuple[Path, Path], tmp_path: Path, pima_config: TrainingConfig
) -> None:
    train, test = (pd.read_parquet(p) for p in split)
    leaky = tmp_path / "leaky-train"
    write_parquet(pd.concat([train, test.head(40)], ignore_index=True), leaky)
    out = tmp_path / "report.html"
    with pytest.raises(ValidationFailed) as info:
        validate_split(leaky, split[1], pima_config.contract, pima_config.validation, out)
    message = str(info.value)
    assert message.startswith(
        "1 data validation condition(s) failed: Train Test Samples Mix (Percentage of test data "
        "samples that appear in train data is less or equal to 0%)"
    )
    assert "25.97%" in message
    assert message.endswith(f"(report: {out})")
    assert out.stat().st_size > 10_000  # the evidence is kept


def test_contract_is_rechecked_on_both_sides(
    split: tuple[Path, Path], tmp_path: Path, pima_config: TrainingConfig
) -> None:
    test = pd.read_parquet(split[1])
    test.loc[0, "Glucose"] = 900.0
    bad = tmp_path / "bad-test"
    write_parquet(test, bad)
    with pytest.raises(
        ValidationFailed, match=r"^test set breaks the data contract: column 'Glucose'"
    ):
        validate_split(split[0], bad, pima_config.contract, pima_config.validation, tmp_path / "r")


class _StubValidator:
    """A deployment's own validator: samdops only needs the protocol."""

    def validate(
        self, train: pd.DataFrame, test: pd.DataFrame, label: str, config: ValidationConfig
    ) -> ValidationReport:
        ok = len(test) >= 200
        return ValidationReport(
            "site suite", (CheckOutcome("min test size", ok, f"{len(test)}"),), b"<html>site</html>"
        )


def test_validator_is_swappable(
    split: tuple[Path, Path], tmp_path: Path, pima_config: TrainingConfig
) -> None:
    with pytest.raises(ValidationFailed, match=r"min test size: 154"):
        validate_split(
            *split,
            pima_config.contract,
            pima_config.validation,
            tmp_path / "r",
            validator=_StubValidator(),
        )
    assert (tmp_path / "r").read_bytes() == b"<html>site</html>"
