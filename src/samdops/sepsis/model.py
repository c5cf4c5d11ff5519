"""Train the sepsis model with the project's ``fit_model`` and record its validation baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd

from samdops.config import ModelConfig, XGBoostParams, load_config, packaged_config_path
from samdops.features.sepsis_hourly import FEATURES, sepsis_features
from samdops.hospital.columns import LABEL, STAY_ID
from samdops.monitoring.scoring import MonitoredModel, ValidatedBaseline
from samdops.training.metrics import auroc, calibration_line
from samdops.training.train import fit_model

DEFAULT_CONFIG = ModelConfig(
    family="xgboost",
    seed=7,
    xgboost=XGBoostParams(n_estimators=120, max_depth=4, learning_rate=0.1),
)


def train_sepsis_model(
    frame: pd.DataFrame,
    *,
    config: ModelConfig = DEFAULT_CONFIG,
    alert_rate: float = 0.05,
    validation_share: float = 0.3,
) -> MonitoredModel:
    """Fit on some stays, validate on the others (split by stay: hours of a stay are not
    independent) and choose the alert threshold that gives ``alert_rate`` on validation.
    The model is recorded under the packaged sepsis config with ``config`` as its model."""
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
    baseline = ValidatedBaseline(
        auroc=auroc(y, score),
        calibration_slope=slope,
        calibration_intercept=intercept,
        alert_rate=float(np.mean(alerts)),
        threshold=threshold,
        n_validation_rows=len(y),
        ppv=float(np.mean(y[alerts])) if alerts.any() else None,
    )
    trained_under = load_config(packaged_config_path("sepsis")).model_copy(update={"model": config})
    return MonitoredModel(model=model, baseline=baseline, config=trained_under)
