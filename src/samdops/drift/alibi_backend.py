"""alibi-detect behind samdops's detector interface (imported lazily: BSL-licensed, slow import).

``alibi_detector(...)`` is a :class:`ScipyDriftDetector` whose continuous value test is
alibi-detect's ``KSDrift`` and, with ``multivariate=True``, whose multivariate test is
``ClassifierDrift`` with the sklearn backend. Missing values are dropped before every alibi
test (alibi would silently give NaN), and missingness is tested separately, as in the scipy
detector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from samdops._types import Array
from samdops.drift.multivariate import domain_classifier_test
from samdops.drift.scipy_detector import ScipyDriftDetector


def alibi_ks_test(reference: Array, current: Array) -> tuple[float, float]:
    from alibi_detect.cd import KSDrift

    detector = KSDrift(reference.reshape(-1, 1), p_val=0.05)
    data = detector.predict(current.reshape(-1, 1), return_p_val=True, return_distance=True)
    return float(data["data"]["distance"][0]), float(data["data"]["p_val"][0])


def classifier_drift_test(
    reference: Array,
    current: Array,
    *,
    reference_groups: Array | None = None,
    seed: int = 0,
) -> tuple[float, float]:
    """ClassifierDrift (sklearn backend) on rows; NaN is imputed with the reference median.
    alibi's folds cannot keep a stay's units together, so only one unit per stay is kept."""
    from alibi_detect.cd import ClassifierDrift
    from sklearn.ensemble import HistGradientBoostingClassifier

    if reference_groups is not None:
        _, first = np.unique(np.asarray(reference_groups), return_index=True)
        reference = reference[np.sort(first)]
    medians = np.nanmedian(reference, axis=0)
    medians = np.where(np.isfinite(medians), medians, 0.0)
    ref = np.where(np.isnan(reference), medians, reference).astype(np.float32)
    cur = np.where(np.isnan(current), medians, current).astype(np.float32)
    model = HistGradientBoostingClassifier(max_iter=50, random_state=seed)
    detector = ClassifierDrift(
        ref, model, backend="sklearn", p_val=0.05, n_folds=3, binarize_preds=False
    )
    data = detector.predict(cur)["data"]
    return float(data["distance"]), float(data["p_val"])


def alibi_detector(
    features: Sequence[str], *, multivariate: bool = False, **options: Any
) -> ScipyDriftDetector:
    """The drift detector with alibi-detect's KS plugged in, and its ClassifierDrift when
    ``multivariate`` (else the default scikit-learn domain classifier)."""
    return ScipyDriftDetector(
        features,
        continuous_test=alibi_ks_test,
        continuous_test_name="alibi KSDrift",
        multivariate=classifier_drift_test if multivariate else domain_classifier_test,
        multivariate_test_name="alibi ClassifierDrift" if multivariate else "Classifier",
        **options,
    )
