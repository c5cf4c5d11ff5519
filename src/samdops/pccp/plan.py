"""The PCCP document: modifications allowed in advance, and how each is verified (PCCP-01).

A plan is YAML validated on load. In the registry it is a versioned record under the name
``pccp-<id>``, and it is in force only once reviewed and approved by e-signature.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from samdops.config import Criterion, _Frozen, _parse, _read_yaml

ModificationType = Literal["retrain-new-data", "recalibrate-threshold"]


class Modification(_Frozen):
    """One allowed type of modification (Description of Modifications)."""

    type: ModificationType
    description: str = Field(min_length=1)


class FixedDesign(_Frozen):
    """What no modification under the plan may change."""

    features: tuple[str, ...] = Field(min_length=1)
    label: str
    model_family: Literal["xgboost", "logistic_regression"]
    contract: str  # name@version of the data contract (the preprocessing)


class Bound(_Frozen):
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Bound:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class DataManagement(_Frozen):
    sources: tuple[str, ...] = Field(min_length=1)
    min_train_rows: int = Field(ge=1)
    min_test_rows: int = Field(ge=1)
    label_definition: str = Field(min_length=1)
    test_set_independence: Literal[True] = True


class RetrainingProcedure(_Frozen):
    pipeline: str
    # Dotted paths into the training config (e.g. model.xgboost.n_estimators) that may vary.
    parameter_bounds: dict[str, Bound] = Field(default_factory=dict)


class NonInferiority(_Frozen):
    metric: Literal["auroc", "auprc"] = "auroc"
    margin: float = Field(gt=0.0, lt=0.5)
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    n_resamples: int = Field(default=1000, ge=200, le=20_000)
    seed: int = Field(default=11, ge=0)


class PerformanceEvaluation(_Frozen):
    criteria: tuple[Criterion, ...] = Field(min_length=1)
    non_inferiority: NonInferiority


class UpdateProcedure(_Frozen):
    required_signatures: tuple[Literal["review", "approval"], ...] = ("review", "approval")


class Plan(_Frozen):
    """A Predetermined Change Control Plan for one model."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: int = Field(ge=1)
    model: str = Field(min_length=1)  # the registry name the plan governs
    modifications: tuple[Modification, ...] = Field(min_length=1)
    fixed: FixedDesign
    data_management: DataManagement
    retraining: RetrainingProcedure
    performance: PerformanceEvaluation
    update_procedure: UpdateProcedure = UpdateProcedure()
    impact_assessment: str = Field(min_length=1)

    @property
    def record_name(self) -> str:
        return f"pccp-{self.id}"

    def allows(self, modification: str) -> bool:
        return any(m.type == modification for m in self.modifications)


def load_plan(path: str | Path) -> Plan:
    """Load and validate a PCCP YAML file; an invalid plan is a one-line ConfigError."""
    return _parse(Plan, _read_yaml(Path(path), "plan"), str(path))


def parse_plan(data: object, source: str) -> Plan:
    return _parse(Plan, data, source)
