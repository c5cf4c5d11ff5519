"""Model files: one self-describing JSON document per model, never a pickle.

A model file holds its format tag, family, feature names and label, and the fitted parameters
(XGBoost's own JSON booster, or the numbers of the logistic-regression pipeline). It is written
with canonical JSON, so equal models have equal bytes and equal sha256 digests, and loading it
cannot execute code.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from samdops._types import Array
from samdops.atomic import atomic_write_bytes
from samdops.digest import canonical_json, sha256_bytes
from samdops.errors import VerificationError

MODEL_FORMAT = "samdops.model/v1"


@dataclass(frozen=True)
class ModelFile:
    """A fitted model as stored: the document and the digest of its canonical bytes."""

    document: dict[str, Any]
    # The loaded booster, made on first use (a server predicts with one model many times).
    _booster: list[Any] = field(default_factory=list, init=False, repr=False, compare=False)

    @property
    def family(self) -> str:
        return str(self.document["family"])

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.document["features"])

    def to_bytes(self) -> bytes:
        return canonical_json(self.document)

    @property
    def sha256(self) -> str:
        return sha256_bytes(self.to_bytes())

    def save(self, path: str | Path) -> str:
        """Write the model atomically; return its digest."""
        data = self.to_bytes()
        atomic_write_bytes(path, data)
        return sha256_bytes(data)

    def predict_proba(self, frame: pd.DataFrame) -> Array:
        """Probability of the positive class for each row of ``frame``."""
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise VerificationError(f"model needs feature(s) {missing} that the data lacks")
        return self.predict_matrix(
            np.column_stack([frame[f].to_numpy(dtype="float64") for f in self.features])
        )

    def predict_matrix(self, x: Array) -> Array:
        """Probability of the positive class for each row of ``x`` (columns: the features)."""
        if self.family == "xgboost":
            if not self._booster:
                self._booster.append(_xgboost_booster(self.document))
            return _xgboost_predict(self._booster[0], x)
        if self.family == "logistic_regression":
            return _linear_predict(self.document, x)
        raise VerificationError(f"unknown model family {self.family!r}")


def load_model(path: str | Path) -> ModelFile:
    """Read a model file written by :meth:`ModelFile.save`."""
    try:
        document = json.loads(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise VerificationError(f"{path} is not a samdops model file: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != MODEL_FORMAT:
        raise VerificationError(f"{path} is not a {MODEL_FORMAT} model file")
    return ModelFile(document)


def import_xgboost() -> ModuleType:
    """xgboost, without its scikit-learn wrappers unless scikit-learn is loaded already.

    samdops uses only ``train``, ``Booster`` and ``DMatrix``. xgboost imports scikit-learn (and
    with it scipy.stats) eagerly for its estimator classes, which samdops never uses: 1.2 s of a
    pipeline step that only scores. A ``None`` in ``sys.modules`` makes that import fail, as
    xgboost expects where scikit-learn is not installed; scikit-learn imports normally later.
    """
    loaded = sys.modules.get("xgboost")
    if loaded is not None:
        return loaded
    if "sklearn" in sys.modules:
        import xgboost

        return xgboost
    sys.modules["sklearn"] = None  # type: ignore[assignment]
    try:
        import xgboost
    finally:
        del sys.modules["sklearn"]
    return xgboost


def _xgboost_booster(document: dict[str, Any]) -> Any:
    booster = import_xgboost().Booster()
    booster.load_model(bytearray(document["booster"].encode("utf-8")))
    booster.set_param({"nthread": 1})
    return booster


def _xgboost_predict(booster: Any, x: Array) -> Array:
    # in place: no DMatrix (building one costs more than predicting a few rows); the same
    # predictor, so the scores are bit for bit those of a DMatrix prediction
    return np.asarray(booster.inplace_predict(x, missing=np.nan), dtype="float64")


def _linear_predict(document: dict[str, Any], x: Array) -> Array:
    medians = np.asarray(document["impute_median"], dtype="float64")
    x = np.where(np.isnan(x), medians, x)
    z = (x - np.asarray(document["mean"])) / np.asarray(document["scale"])
    logit = z @ np.asarray(document["coef"]) + float(document["intercept"])
    return np.asarray(1.0 / (1.0 + np.exp(-logit)), dtype="float64")
