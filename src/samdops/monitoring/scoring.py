"""A model as the monitor uses it: raw window rows in, risk out, and the baseline it was
validated at. Any registered model: its config names its feature transform (or none) and its
label, so the Pima model and the sepsis model are monitored by one procedure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from samdops._types import Array
from samdops.config import TrainingConfig
from samdops.training.contract import missing_as_nan, missing_as_nan_matrix
from samdops.training.models import ModelFile
from samdops.training.train import model_inputs


@dataclass(frozen=True)
class ValidatedBaseline:
    """The validated performance the monitor compares windows against."""

    auroc: float
    calibration_slope: float
    calibration_intercept: float
    alert_rate: float
    threshold: float
    n_validation_rows: int
    ppv: float | None = None  # share of alerts that were positive; None when nothing alerted

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MonitoredModel:
    """A fitted model, the configuration it was trained under and its validated baseline.

    :func:`samdops.monitoring.registered_model.load_registered_model` loads a registered one.
    """

    model: ModelFile
    baseline: ValidatedBaseline
    config: TrainingConfig

    @property
    def label(self) -> str:
        """The column the model's labels arrive in (the contract's label)."""
        return self.config.contract.label

    @property
    def looks_back(self) -> bool:
        """Whether a row's inputs depend on earlier rows of its group (a transform's history):
        then a window is scored with the group's rows of the previous window in front."""
        return self.config.features is not None

    def score(self, frame: pd.DataFrame | Mapping[str, Array]) -> Array:
        """Risk per row of raw ``frame``: missing codes as NaN, then the configured transform.

        Without a transform the model's inputs are the contract's columns themselves, taken
        as one matrix (the same numbers as through a frame, without building one: a server
        scores a few rows at a time)."""
        if self.config.features is None:
            return self.model.predict_matrix(
                missing_as_nan_matrix(frame, self.config.contract, self.model.features)
            )
        assert isinstance(frame, pd.DataFrame), "a feature transform takes a table"
        inputs = model_inputs(missing_as_nan(frame, self.config.contract), self.config)
        scores = pd.Series(self.model.predict_proba(inputs), index=inputs.index)
        result: Array = scores.reindex(frame.index).to_numpy(dtype=float)
        return result
