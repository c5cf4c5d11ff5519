"""Train the sepsis model with the project's ``fit_model`` and record its validation baseline."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from samdops._types import Array
from samdops.config import ModelConfig, XGBoostParams
from samdops.drift.concept import calibration_line
from samdops.features.sepsis_hourly import FEATURES, sepsis_features
from samdops.hospital.columns import LABEL, STAY_ID
from samdops.training.metrics import auroc
from samdops.training.models import ModelFile
from samdops.training.train import fit_model

DEFAULT_CONFIG = ModelConfig(
    family="xgboost",
    seed=7,
    xgboost=XGBoostParams(n_estimators=120, max_depth=4, learning_rate=0.1),
)


@dataclass(frozen=True)
class SepsisBaseline:
    """The validated performance the monitor compares windows against."""

    auroc: float
    calibration_slope: float
    calibration_intercept: float
    alert_rate: float
    threshold: float
    n_validation_rows: int
    ppv: float | None = None  # share of alerts that were septic; None when nothing alerted

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SepsisModel:
    """A fitted sepsis model and the baseline it was validated at.

    :func:`samdops.monitoring.registered_model.load_registered_sepsis_model` loads a registered one.
    """

    model: ModelFile
    baseline: SepsisBaseline

    def score(self, frame: pd.DataFrame) -> Array:
        """Risk per row of raw hourly ``frame`` (features computed within each stay)."""
        features = sepsis_features(frame)
        scores = pd.Series(self.model.predict_proba(features), index=features.index)
        result: Array = scores.reindex(frame.index).to_numpy(dtype=float)
        return result


def train_sepsis_model(
    frame: pd.DataFrame,
    *,
    config: ModelConfig = DEFAULT_CONFIG,
    alert_rate: float = 0.05,
    validation_share: float = 0.3,
) -> SepsisModel:
    """Fit on some stays, validate on the others (split by stay: hours of a stay are not
    independent) and choose the alert threshold that gives ``alert_rate`` on validation."""
    features = sepsis_features(frame).assign(**{LABEL: frame[LABEL]})
    stays = np.unique(features[STAY_ID].to_numpy())
    rng = np.random.default_rng(config.seed)
    held_out = set(rng.choice(stays, int(len(stays) * validation_share), replace=False).tolist())
    is_validation = features[STAY_ID].isin(held_out).to_numpy()
    model = fit_model(features[~is_validation], FEATURES, LABEL, config, "xgboost")
    validation = features[is_validation]
    score = model.predict_proba(validation)
    y = validation[LABEL].to_numpy(dtype=int)
    threshold = float(np.quantile(score, 1 - alert_rate))
    slope, intercept = calibration_line(y, score)
    alerts = score >= threshold
    baseline = SepsisBaseline(
        auroc=auroc(y, score),
        calibration_slope=slope,
        calibration_intercept=intercept,
        alert_rate=float(np.mean(alerts)),
        threshold=threshold,
        n_validation_rows=len(y),
        ppv=float(np.mean(y[alerts])) if alerts.any() else None,
    )
    return SepsisModel(model=model, baseline=baseline)
