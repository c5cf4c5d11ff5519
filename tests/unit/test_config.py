"""Configs are validated on load; every problem names its key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from samdops.config import TrainingConfig, default_config_path, load_config
from samdops.errors import ConfigError
from tests.conftest import PIMA_CSV, PIMA_SHA256


def _write(tmp_path: Path, mutate: dict[str, object]) -> Path:
    source = default_config_path()
    raw = yaml.safe_load(source.read_text())
    raw["contract"] = yaml.safe_load((source.parent / raw["contract"]).read_text())
    raw["data"]["path"] = str(PIMA_CSV)
    for dotted, value in mutate.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_packaged_config_resolves_the_shipped_data(pima_config: TrainingConfig) -> None:
    assert Path(pima_config.data.path) == PIMA_CSV
    assert pima_config.data.sha256 == PIMA_SHA256
    assert pima_config.contract.label == "Outcome"
    assert len(pima_config.contract.feature_names) == 8


def test_resolved_json_round_trips(pima_config: TrainingConfig) -> None:
    text = pima_config.to_json()
    assert TrainingConfig.from_json(text) == pima_config
    assert TrainingConfig.from_json(text).to_json() == text


def test_config_is_immutable(pima_config: TrainingConfig) -> None:
    with pytest.raises(Exception, match="frozen"):
        pima_config.model.seed = 1  # type: ignore[misc]


def test_bad_value_names_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path, {"model.xgboost.max_depth": 0})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: model.xgboost.max_depth: Input should be greater than or equal to 1 (got 0)"
    )


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, {"model.lerning_rate": 0.1})
    with pytest.raises(ConfigError, match=r"model\.lerning_rate: Extra inputs are not permitted"):
        load_config(path)


def test_criterion_needs_exactly_one_bound(tmp_path: Path) -> None:
    path = _write(tmp_path, {"evaluation.acceptance": [{"metric": "auroc"}]})
    with pytest.raises(ConfigError, match="set exactly one of min or max"):
        load_config(path)


def test_subgroup_on_unknown_column_is_refused(tmp_path: Path) -> None:
    groups = [{"name": "g", "column": "Weight", "edges": [0, 1], "labels": ["a"]}]
    path = _write(tmp_path, {"evaluation.subgroups": groups})
    with pytest.raises(ConfigError, match="subgroup 'g' uses unknown column 'Weight'"):
        load_config(path)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(bad)
