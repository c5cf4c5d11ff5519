"""The one shape of every drift detector: configure, ``fit(reference)``, ``predict(window)``."""

from __future__ import annotations

from typing import Protocol, Self

import pandas as pd

from samdops.drift.result import DataDriftResult


class DriftDetector(Protocol):
    def fit(self, reference: pd.DataFrame) -> Self: ...

    def predict(self, window: pd.DataFrame) -> DataDriftResult: ...
