"""Typed, frozen results of the drift tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from samdops.jsonsafe import json_safe

# "quality": a finding about the data itself (values that are not finite or outside the data
# contract's range, categories the reference never had), certain rather than tested.
TestKind = Literal["value", "missingness", "score", "multivariate", "quality"]


@dataclass(frozen=True)
class FeatureDrift:
    """One test of one feature: the raw p-value, the corrected decision and a plain finding."""

    name: str
    kind: TestKind
    test: str
    statistic: float
    p_value: float
    is_drift: bool
    finding: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "kind": self.kind,
            "statistic": json_safe(float(self.statistic)),
            "p_value": json_safe(float(self.p_value)),
            "is_drift": self.is_drift,
            "finding": self.finding,
        }


@dataclass(frozen=True)
class DataDriftResult:
    """Every test of one window against the reference, after correction for multiple tests."""

    is_drift: bool
    tests: tuple[FeatureDrift, ...]
    alpha: float
    correction: str
    n_reference: int
    n_current: int
    unit: str  # what one sample is: "row", "stay" (per-stay summary) or "sampled row per stay"
    tested: bool = True  # False: too few units in the window (or the reference) to test
    min_units: int = 5

    @property
    def status(self) -> str:
        """``DRIFT``, ``no drift``, or why the window was not tested (never "no drift" then)."""
        untested = ""
        if not self.tested:
            side, n = (
                ("the reference has ", self.n_reference)
                if self.n_reference < self.min_units
                else ("", self.n_current)
            )
            noun = "row" if self.unit == "row" else "stay"
            untested = (
                f"not tested: {side}only {n} {noun}{'' if n == 1 else 's'} "
                f"(at least {self.min_units} needed)"
            )
        if self.is_drift:
            return f"DRIFT ({untested})" if untested else "DRIFT"
        return untested or "no drift"

    @property
    def drifted(self) -> tuple[FeatureDrift, ...]:
        """Drifted tests, most significant first; then the certain data-quality findings; the
        multivariate test, which names no feature, last."""
        last = {"quality": 1, "multivariate": 2}
        return tuple(
            sorted(
                (t for t in self.tests if t.is_drift),
                key=lambda t: (last.get(t.kind, 0), t.p_value),
            )
        )

    @property
    def blamed(self) -> str | None:
        """The feature the strongest finding is about ("all features" when only the
        multivariate test drifted), or ``None`` without drift."""
        drifted = self.drifted
        return drifted[0].name if drifted else None

    def as_dict(self) -> dict[str, Any]:
        values = {
            t.name: t.as_dict()
            for t in self.tests
            if t.kind == "value" and "(new admissions)" not in t.test
        }
        admissions = {
            t.name: t.as_dict()
            for t in self.tests
            if t.kind == "value" and "(new admissions)" in t.test
        }
        return {
            "is_drift": self.is_drift,
            "status": self.status,
            "tested": self.tested,
            "alpha": self.alpha,
            "correction": self.correction,
            "unit": self.unit,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "blamed": self.blamed,
            "findings": list(dict.fromkeys(t.finding for t in self.drifted if t.finding)),
            "features": values,
            "new_admissions": admissions,
            "missingness": {t.name: t.as_dict() for t in self.tests if t.kind == "missingness"},
            "score": next((t.as_dict() for t in self.tests if t.kind == "score"), None),
            "quality": [t.as_dict() | {"name": t.name} for t in self.tests if t.kind == "quality"],
            "multivariate": next(
                (t.as_dict() for t in self.tests if t.kind == "multivariate"), None
            ),
        }
