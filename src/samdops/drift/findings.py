"""Plain-language findings: scale errors named as such, shifts and missingness changes."""

from __future__ import annotations

import numpy as np

from samdops._types import Array

# Unit conversions that clinical data meet: lactate and glucose mmol/L <-> mg/dL, creatinine
# mg/dL <-> umol/L, and powers of ten. A ratio close to one of them is reported as that factor.
_KNOWN_FACTORS = (2.0, 9.01, 10.0, 18.0, 88.4, 100.0, 1000.0)


def scale_factor(ratio: float) -> float:
    """``ratio`` snapped to a known unit factor when within 25% of one."""
    for factor in _KNOWN_FACTORS:
        if abs(np.log(ratio / factor)) < np.log(1.25):
            return factor
    return ratio


def value_finding(name: str, reference: Array, current: Array) -> str:
    """'Lactate about 9x larger than reference', or the median shift when it is not a scale."""
    ref_median = float(np.median(reference))
    cur_median = float(np.median(current))
    if ref_median > 0 and cur_median > 0:
        ratio = cur_median / ref_median
        if ratio >= 1.8:
            factor = scale_factor(ratio)
            return f"{name} about {factor:.0f}x larger than reference (unit or scale change?)"
        if ratio <= 1 / 1.8:
            factor = scale_factor(1 / ratio)
            return f"{name} about {factor:.0f}x smaller than reference (unit or scale change?)"
    delta = cur_median - ref_median
    return (
        f"{name} median shifted by {delta:+.3g} (reference {ref_median:.3g}, now {cur_median:.3g})"
    )


def missing_finding(name: str, reference_rate: float, current_rate: float) -> str:
    return (
        f"{name} missing in {100 * current_rate:.0f}% of hours "
        f"(reference {100 * reference_rate:.0f}%)"
    )


def category_finding(name: str, reference: Array, current: Array) -> str:
    values = sorted(set(np.unique(reference).tolist()) | set(np.unique(current).tolist()))
    parts = [
        f"{_label(v)}: {100 * np.mean(reference == v):.0f}% -> {100 * np.mean(current == v):.0f}%"
        for v in values[:_MAX_LISTED]
    ]
    more = f", and {len(values) - _MAX_LISTED} more" if len(values) > _MAX_LISTED else ""
    return f"{name} category shares changed ({', '.join(parts)}{more})"


def new_category_finding(
    name: str, new: list[object], n_units: int, n_total: int, unit: str
) -> str:
    """'Unit: 12 of 40 stays in categories the reference never had (CCU)'."""
    listed = ", ".join(_label(v) for v in new[:_MAX_LISTED])
    more = f" and {len(new) - _MAX_LISTED} more" if len(new) > _MAX_LISTED else ""
    return (
        f"{name}: {n_units} of {n_total} {unit}s in categories the reference never had "
        f"({listed}{more})"
    )


def non_finite_finding(name: str, n_rows: int, n_total: int) -> str:
    return (
        f"{name}: {n_rows} of {n_total} rows are not finite (inf or -inf); a sensor or export "
        "fault, not a measurement"
    )


def out_of_range_finding(
    name: str, n_rows: int, n_total: int, low: float | None, high: float | None, extreme: float
) -> str:
    bounds = f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"
    return (
        f"{name}: {n_rows} of {n_total} rows outside the data contract's range {bounds} "
        f"(most extreme {extreme:.3g}; unit or export error?)"
    )


def alert_share_finding(what: str, reference_share: float, current_share: float) -> str:
    return (
        f"{what}: {100 * current_share:.0f}% of stays above the alert threshold "
        f"(reference {100 * reference_share:.0f}%)"
    )


_MAX_LISTED = 10


def _label(value: object) -> str:
    """A category as a report shows it: short, printable (a name from a file is not trusted)."""
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    return text if text.isprintable() and len(text) <= 40 else repr(text[:40])
