"""The checks at the door: a request's rows against the model's data contract.

A request carries one list of values per contract column (the label excepted), one value per
row. Each value must be a number (or null where the contract allows a missing value), of the
column's dtype and inside its physical range, in its unit. A request with any row outside the
contract is refused whole (HTTP 422), naming the first field and value; every refused row is
recorded. Rows are not repaired: a clinical system that sends a value out of range has a bug or
a unit error that the integration team must see.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from samdops._types import Array
from samdops.config import ColumnSpec, DataContract
from samdops.errors import RowsRefused

MAX_ROWS = 10_000


def request_columns(contract: DataContract) -> tuple[str, ...]:
    """The columns a request carries: the contract's, without the label."""
    return tuple(c.name for c in contract.columns if c.name != contract.label)


def checked_rows(inputs: Mapping[str, Sequence[Any]], contract: DataContract) -> dict[str, Array]:
    """The request's rows as one array per column, in contract order (missing as NaN, missing
    codes kept, whole-number columns as int64, as a dataset holds them; ``pd.DataFrame`` of it
    is the table a transform takes); raise :class:`RowsRefused` naming every refused row."""
    expected = request_columns(contract)
    unknown = [name for name in inputs if name not in expected]
    if unknown:
        shown = ", ".join(repr(n[:40]) for n in unknown[:5])
        raise RowsRefused(
            f"unknown input(s) {shown}; contract {contract.name} v{contract.version} takes: "
            f"{', '.join(expected)}"
        )
    missing = [name for name in expected if name not in inputs]
    if missing:
        raise RowsRefused(
            f"missing input(s) {', '.join(missing)}; contract {contract.name} "
            f"v{contract.version} takes: {', '.join(expected)}"
        )
    lengths = {len(inputs[name]) for name in expected}
    if len(lengths) != 1:
        raise RowsRefused(f"the inputs have different lengths ({sorted(lengths)}); one per row")
    (n_rows,) = lengths
    if not 0 < n_rows <= MAX_ROWS:
        raise RowsRefused(f"a request carries 1 to {MAX_ROWS} rows, not {n_rows}")
    refused: dict[int, dict[str, object]] = {}
    columns: dict[str, Array] = {}
    for spec in contract.columns:
        if spec.name == contract.label:
            continue
        values = np.full(n_rows, np.nan)
        for row, value in enumerate(inputs[spec.name]):
            number, reason = _checked_value(value, spec)
            if reason is not None and row not in refused:
                refused[row] = {"row": row, "field": spec.name, "value": _shown(value), **reason}
            values[row] = number
        columns[spec.name] = values
    if refused:
        first = refused[min(refused)]
        more = f" ({len(refused)} rows refused)" if len(refused) > 1 else ""
        raise RowsRefused(
            f"row {first['row']}: {first['field']} = {first['value']} {first['reason']}{more}",
            refused=tuple(refused[row] for row in sorted(refused)),
        )
    for spec in contract.columns:  # whole-number columns as a dataset holds them
        if spec.name not in columns or spec.dtype == "float":
            continue
        if not np.isnan(columns[spec.name]).any():
            columns[spec.name] = columns[spec.name].astype("int64")
    return columns


def _checked_value(value: Any, spec: ColumnSpec) -> tuple[float, dict[str, str] | None]:
    """``value`` as a float (NaN when missing) and why it is refused, or ``None``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        if spec.max_missing > 0 or spec.missing_codes:
            return math.nan, None
        return math.nan, {"reason": "is missing, and the contract requires a value"}
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return math.nan, {"reason": f"is not a number (the contract's {spec.dtype})"}
    number = float(value)
    if not math.isfinite(number):
        return math.nan, {"reason": "is not a finite number"}
    if spec.dtype in ("integer", "binary") and number != round(number):
        return math.nan, {"reason": f"is not an integer (the contract's {spec.dtype})"}
    if number in spec.missing_codes:
        return number, None
    if spec.dtype == "binary" and number not in (0.0, 1.0):
        return math.nan, {"reason": "is not 0 or 1"}
    low = -math.inf if spec.min is None else spec.min
    high = math.inf if spec.max is None else spec.max
    if not low <= number <= high:
        unit = f" {spec.unit}" if spec.unit else ""
        return math.nan, {
            "reason": f"is outside the valid range [{low:g}, {high:g}]{unit}",
        }
    return number, None


def _shown(value: Any) -> str:
    """A refused value as the message shows it (short; a long string is cut)."""
    if isinstance(value, str):
        return repr(value[:40] + ("..." if len(value) > 40 else ""))
    return repr(value) if not isinstance(value, float) else f"{value:g}"
