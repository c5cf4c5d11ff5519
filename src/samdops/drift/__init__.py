"""Drift monitoring behind samdops's own detector interface (alibi-detect is optional, BSL)."""

from samdops.drift.detector import DriftDetector
from samdops.drift.result import DataDriftResult, FeatureDrift
from samdops.drift.scipy_detector import ScipyDriftDetector

__all__ = ["DataDriftResult", "DriftDetector", "FeatureDrift", "ScipyDriftDetector"]
