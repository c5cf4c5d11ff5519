"""The drift detector by backend name, as the CLI and the monitoring pipeline choose it.

``scipy`` (the default, permissive licences only) or ``alibi``: alibi-detect's ``KSDrift`` for
continuous values and its ``ClassifierDrift`` (sklearn backend) as the multivariate test, for a
deployment licensed for alibi-detect (Business Source License). Both have the same interface
and output, so a hospital swaps them with a parameter, not a pipeline change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from samdops.errors import ConfigError

if TYPE_CHECKING:  # imported when used: the CLI reads BACKENDS at start-up
    from samdops.drift.scipy_detector import ScipyDriftDetector

BACKENDS = ("scipy", "alibi")


def make_detector(backend: str, features: Sequence[str], **options: Any) -> ScipyDriftDetector:
    """The detector of ``backend`` over ``features``; ``options`` as :class:`ScipyDriftDetector`."""
    if backend == "scipy":
        from samdops.drift.scipy_detector import ScipyDriftDetector

        return ScipyDriftDetector(features, **options)
    if backend == "alibi":
        from samdops.drift.alibi_backend import alibi_detector

        return alibi_detector(features, multivariate=True, **options)
    raise ConfigError(f"drift backend {backend!r} is not one of {', '.join(BACKENDS)}")
