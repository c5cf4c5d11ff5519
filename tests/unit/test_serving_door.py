"""The checks at the door: a request's rows against the Pima data contract."""

from __future__ import annotations

import math
from typing import Any

import pytest

from samdops.config import default_config_path, load_config
from samdops.errors import RowsRefused
from samdops.serving.door import MAX_ROWS, checked_rows, request_columns
from tests.serving_helpers import PIMA_ROW as ROW

CONTRACT = load_config(default_config_path()).contract


def inputs(**changes: Any) -> dict[str, list[Any]]:
    return {name: [changes.get(name, value)] for name, value in ROW.items()}


def refusal(request: dict[str, list[Any]]) -> RowsRefused:
    with pytest.raises(RowsRefused) as caught:
        checked_rows(request, CONTRACT)
    return caught.value


def test_a_request_carries_the_contract_columns_without_the_label() -> None:
    assert request_columns(CONTRACT) == tuple(ROW)


def test_good_rows_pass_in_contract_order_with_missing_codes_kept() -> None:
    request = {name: [value, value] for name, value in reversed(ROW.items())}
    frame = checked_rows(request, CONTRACT)
    assert list(frame) == list(ROW)
    assert frame["Insulin"].tolist() == [0, 0]  # the missing code: scoring makes it NaN
    assert frame["Age"].dtype == "int64"
    assert frame["BMI"].tolist() == [33.1, 33.1]


def test_a_value_outside_its_range_is_refused_naming_field_value_and_unit() -> None:
    exc = refusal(inputs(Glucose=950))
    assert str(exc) == "row 0: Glucose = 950 is outside the valid range [20, 600] mg/dL"
    assert exc.refused == (
        {
            "row": 0,
            "field": "Glucose",
            "value": "950",
            "reason": "is outside the valid range [20, 600] mg/dL",
        },
    )


@pytest.mark.hostile
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Age": "45"}, "row 0: Age = '45' is not a number (the contract's integer)"),
        ({"Age": True}, "row 0: Age = True is not a number (the contract's integer)"),
        ({"Age": None}, "row 0: Age = None is missing, and the contract requires a value"),
        ({"BMI": math.inf}, "row 0: BMI = inf is not a finite number"),
        (
            {"DiabetesPedigreeFunction": math.nan},
            "row 0: DiabetesPedigreeFunction = nan is missing, and the contract requires a value",
        ),
        (
            {"Pregnancies": 2.5},
            "row 0: Pregnancies = 2.5 is not an integer (the contract's integer)",
        ),
        ({"Age": [45]}, "row 0: Age = [45] is not a number (the contract's integer)"),
        (
            {"Age": "x" * 500},
            "row 0: Age = '" + "x" * 40 + "...' is not a number (the contract's integer)",
        ),
        (
            {"DiabetesPedigreeFunction": -1},
            "row 0: DiabetesPedigreeFunction = -1 is outside the valid range [0, 3] score",
        ),
    ],
)
def test_real_world_mistakes_are_refused_in_one_line(changes: dict[str, Any], message: str) -> None:
    assert str(refusal(inputs(**changes))) == message


def test_a_missing_value_where_the_contract_allows_one_passes() -> None:
    assert math.isnan(checked_rows(inputs(Glucose=None), CONTRACT)["Glucose"][0])


def test_every_refused_row_is_listed_and_the_first_is_named() -> None:
    request = {name: [value, value, value] for name, value in ROW.items()}
    request["Glucose"] = [150, 950, 10]
    request["Age"] = [45, 45, -1]
    exc = refusal(request)
    assert str(exc) == (
        "row 1: Glucose = 950 is outside the valid range [20, 600] mg/dL (2 rows refused)"
    )
    assert [(r["row"], r["field"]) for r in exc.refused] == [(1, "Glucose"), (2, "Glucose")]


@pytest.mark.hostile
def test_unknown_missing_and_ragged_inputs_are_refused() -> None:
    assert str(refusal({**inputs(), "Outcome": [1]})).startswith(
        "unknown input(s) 'Outcome'; contract pima-diabetes v1 takes: Pregnancies, Glucose"
    )
    without = inputs()
    del without["Age"]
    assert str(refusal(without)).startswith("missing input(s) Age; contract pima-diabetes v1")
    ragged = inputs()
    ragged["Age"] = [45, 46]
    assert str(refusal(ragged)) == "the inputs have different lengths ([1, 2]); one per row"
    empty = {name: [] for name in ROW}
    assert str(refusal(empty)) == f"a request carries 1 to {MAX_ROWS} rows, not 0"
    big = {name: [value] * (MAX_ROWS + 1) for name, value in ROW.items()}
    assert str(refusal(big)) == f"a request carries 1 to {MAX_ROWS} rows, not {MAX_ROWS + 1}"
