"""``--categorical`` / the pipeline's ``categorical``: columns and one-hot groups in one string."""

from __future__ import annotations

import re

import pytest

from samdops.drift.categorical import parse_categorical
from samdops.errors import ConfigError
from samdops.hospital.columns import CATEGORICAL, CATEGORICAL_SPEC, CATEGORY_GROUPS


def test_columns_and_groups() -> None:
    spec = parse_categorical(" Gender , Unit = Unit1 + Unit2,Ward=A+B+C ")
    assert spec.columns == ("Gender", "Unit1", "Unit2", "A", "B", "C")
    assert dict(spec.groups) == {"Unit": ("Unit1", "Unit2"), "Ward": ("A", "B", "C")}
    assert parse_categorical("") == parse_categorical(" , ")
    assert parse_categorical("").columns == ()


def test_the_sepsis_default_is_the_simulator_s_categories() -> None:
    spec = parse_categorical(CATEGORICAL_SPEC)
    assert spec.columns == CATEGORICAL and dict(spec.groups) == CATEGORY_GROUPS


def test_groups_are_read_only() -> None:
    with pytest.raises(TypeError):
        parse_categorical("Unit=Unit1+Unit2").groups["X"] = ("a", "b")  # type: ignore[index]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("Unit=Unit1", "categorical group 'Unit=Unit1' must be NAME=COL1+COL2"),
        ("=Unit1+Unit2", "categorical group '=Unit1+Unit2' must be NAME=COL1+COL2"),
        ("Unit=Unit1+", "categorical group 'Unit=Unit1+' must be NAME=COL1+COL2"),
        ("Unit=A+B,Unit=C+D", "categorical group Unit is given twice"),
        ("Gender,Unit=Gender+Unit2", "categorical column(s) Gender given more than once"),
    ],
)
def test_malformed_specs_say_how_to_write_them(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_categorical(spec)
