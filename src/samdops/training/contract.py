"""Enforce a :class:`~samdops.config.DataContract` on a table.

Checks run in an order that gives the most useful first error: identifiers (PHI must never get
further), then columns, dtypes, missing codes, ranges and missingness. The first violation found
raises :class:`~samdops.errors.DataContractError` naming the column, the rows and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from samdops._types import Array
from samdops.config import ColumnSpec, DataContract
from samdops.errors import DataContractError

# Normalised column names (lowercase, letters and digits only) that name a direct identifier.
_IDENTIFIER_NAMES: dict[str, str] = {
    "name": "name",
    "firstname": "name",
    "lastname": "name",
    "surname": "name",
    "fullname": "name",
    "patientname": "name",
    "mrn": "medical record number",
    "medicalrecordnumber": "medical record number",
    "medicalrecordno": "medical record number",
    "ssn": "social security number",
    "socialsecuritynumber": "social security number",
    "dob": "date of birth",
    "dateofbirth": "date of birth",
    "birthdate": "date of birth",
    "address": "address",
    "streetaddress": "address",
    "street": "address",
    "homeaddress": "address",
    "phone": "phone number",
    "phonenumber": "phone number",
    "telephone": "phone number",
    "mobile": "phone number",
    "email": "email address",
    "emailaddress": "email address",
}
_IDENTIFIER_FRAGMENTS: tuple[tuple[str, str], ...] = (
    ("patientname", "name"),
    ("mrn", "medical record number"),
    ("ssn", "social security number"),
    ("dateofbirth", "date of birth"),
    ("birthdate", "date of birth"),
    ("address", "address"),
    ("phone", "phone number"),
    ("email", "email address"),
)
_VALUE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^\d{3}-\d{2}-\d{4}$"), "social security number"),
    (re.compile(r"^[^@\s]+@[^@\s]+\.[a-zA-Z]{2,}$"), "email address"),
    (re.compile(r"^\+?[\d ()-]{7,}\d$"), "phone number"),
)


def identifier_kind(column: str, values: pd.Series | None = None) -> str | None:
    """What kind of direct patient identifier ``column`` looks like, or None."""
    key = re.sub(r"[^a-z0-9]", "", column.lower())
    if key in _IDENTIFIER_NAMES:
        return _IDENTIFIER_NAMES[key]
    for fragment, kind in _IDENTIFIER_FRAGMENTS:
        if fragment in key:
            return kind
    if values is not None and values.dtype == object:
        sample = values.dropna().astype(str).head(200)
        for pattern, kind in _VALUE_PATTERNS:
            if (
                len(sample)
                and sample.map(lambda v, p=pattern: bool(p.match(v.strip()))).mean() > 0.5
            ):
                return kind
    return None


def refuse_identifiers(df: pd.DataFrame, group: str | None = None) -> None:
    """Raise if any column looks like a direct patient identifier (by name or by its values).

    ``group`` is the contract's declared pseudonymous group id (e.g. a stay number): it is still
    refused when its name says it is an identifier, but its values are not pattern-matched (a
    long integer looks like a phone number; the contract's integer dtype check applies to it).
    """
    for column in df.columns:
        values = None if str(column) == group else df[column]
        kind = identifier_kind(str(column), values)
        if kind is not None:
            declared = " (declared as the contract's group column)" if values is None else ""
            raise DataContractError(
                f"column {column!r}{declared} looks like a direct patient identifier ({kind}); "
                "PHI must not enter training: remove or de-identify it before ingest"
            )


def apply_contract(df: pd.DataFrame, contract: DataContract) -> pd.DataFrame:
    """Return ``df`` checked against ``contract``, missing codes as NaN, in contract order."""
    if df.empty:
        raise DataContractError("the dataset has no data rows")
    refuse_identifiers(df, contract.group)
    _check_columns(df, contract)
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for spec in contract.columns:
        out[spec.name] = _check_column(df[spec.name].reset_index(drop=True), spec, contract)
    return out


def missing_as_nan(df: pd.DataFrame, contract: DataContract) -> pd.DataFrame:
    """``df`` with the missing codes of the contract's columns as NaN (those columns as float),
    nothing else changed or checked: rows to score as the model was trained on them."""
    coded = [c for c in contract.columns if c.missing_codes and c.name in df.columns]
    if not coded:
        return df
    replaced = {}
    for spec in coded:
        values = df[spec.name].to_numpy(dtype="float64")
        replaced[spec.name] = np.where(np.isin(values, spec.missing_codes), np.nan, values)
    columns = {name: replaced.get(name, df[name].to_numpy()) for name in df.columns}
    return pd.DataFrame(columns, index=df.index, copy=False)


def missing_as_nan_matrix(
    df: pd.DataFrame | Mapping[str, Array], contract: DataContract, columns: tuple[str, ...]
) -> Array:
    """``columns`` of ``df`` as one float64 matrix, the contract's missing codes as NaN: the
    numbers :func:`missing_as_nan` gives, without a new frame."""
    missing = [name for name in columns if name not in df]
    if missing:
        raise DataContractError(f"the rows lack the model input(s) {', '.join(missing)}")
    codes = {c.name: c.missing_codes for c in contract.columns if c.missing_codes}
    arrays = []
    for name in columns:
        values = np.asarray(df[name], dtype="float64")
        for code in codes.get(name, ()):  # a code or two: a comparison each beats np.isin
            values = np.where(values == code, np.nan, values)
        arrays.append(values)
    return np.column_stack(arrays)


def _check_columns(df: pd.DataFrame, contract: DataContract) -> None:
    expected = [c.name for c in contract.columns]
    present = [str(c) for c in df.columns]
    missing = [c for c in expected if c not in present]
    if missing:
        raise DataContractError(
            f"missing column(s) {', '.join(missing)}; contract {contract.name} "
            f"v{contract.version} requires: {', '.join(expected)}"
        )
    extra = [c for c in present if c not in expected]
    if extra:
        raise DataContractError(
            f"unexpected column(s) {', '.join(extra)}; contract {contract.name} "
            f"v{contract.version} declares only: {', '.join(expected)}"
        )
    duplicated = sorted({c for c in present if present.count(c) > 1})
    if duplicated:
        raise DataContractError(f"duplicate column(s) {', '.join(duplicated)}")


def _rows(mask: pd.Series) -> str:
    rows = [int(i) for i in np.flatnonzero(mask.to_numpy())]
    shown = ", ".join(str(r + 1) for r in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return f"data row(s) {shown}{more}"


def _check_column(raw: pd.Series, spec: ColumnSpec, contract: DataContract) -> pd.Series:
    values = pd.to_numeric(raw, errors="coerce")
    unparsable = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if unparsable.any():
        example = raw[unparsable].iloc[0]
        raise DataContractError(
            f"column {spec.name!r} must be {spec.dtype}, but {_rows(unparsable)} hold "
            f"non-numeric values such as {example!r}"
        )
    values = values.astype("float64")
    present = values.notna()
    if spec.dtype in ("integer", "binary"):
        fractional = present & (values != np.round(values))
        if fractional.any():
            raise DataContractError(
                f"column {spec.name!r} must be {spec.dtype}, but {_rows(fractional)} hold "
                f"fractional values such as {values[fractional].iloc[0]!r}"
            )
    for code in spec.missing_codes:
        values = values.mask(values == code)
    present = values.notna()
    if spec.dtype == "binary":
        bad = present & ~values.isin([0.0, 1.0])
        if bad.any():
            raise DataContractError(
                f"column {spec.name!r} must be 0 or 1, but {_rows(bad)} hold values such as "
                f"{values[bad].iloc[0]:g}"
            )
    low = -np.inf if spec.min is None else spec.min
    high = np.inf if spec.max is None else spec.max
    out_of_range = present & ((values < low) | (values > high))
    if out_of_range.any():
        value = float(values[out_of_range].iloc[0])
        unit = f" {spec.unit}" if spec.unit else ""
        raise DataContractError(
            f"column {spec.name!r} has value {value:g}{unit} in {_rows(out_of_range)}, outside "
            f"the valid range [{low:g}, {high:g}]; fix the source data or the contract"
        )
    missing_ratio = float((~present).mean())
    allowed = 0.0 if spec.name == contract.label else spec.max_missing
    if missing_ratio > allowed:
        raise DataContractError(
            f"column {spec.name!r} is {missing_ratio:.1%} missing, more than the "
            f"{allowed:.1%} the contract allows"
        )
    # A column that may hold missing values is float64 in every dataset, so schemas agree.
    if spec.dtype != "float" and not spec.missing_codes and spec.max_missing == 0.0:
        return values.astype("int64")
    return values
