"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from samdops.config import TrainingConfig, default_config_path, load_config

REPO = Path(__file__).resolve().parents[1]
PIMA_CSV = REPO / "data" / "pima-indians-diabetes.csv"
PIMA_SHA256 = "sha256:27939f6c904b6c58a3ae9fe48a50cefadd42b46ce92ebad9cb4114334b28ee66"


@pytest.fixture(scope="session")
def pima_config() -> TrainingConfig:
    return load_config(default_config_path())


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh samdops home, also set as $SAMDOPS_HOME."""
    path = tmp_path / "home"
    monkeypatch.setenv("SAMDOPS_HOME", str(path))
    return path


@pytest.fixture
def pima_rows() -> list[list[str]]:
    """The Pima CSV as rows of strings (header first), for crafting bad inputs."""
    with open(PIMA_CSV, newline="") as f:
        return [list(r) for r in csv.reader(f)]


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[str, list[list[str]]], Path]:
    def write(name: str, rows: list[list[str]]) -> Path:
        path = tmp_path / name
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows(rows)
        return path

    return write
