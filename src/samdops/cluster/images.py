"""The configured references of the component and serving images, and the digest-pinning rule.

Each reference comes from its environment variable (``$SAMDOPS_COMPONENT_IMAGE``,
``$SAMDOPS_SERVING_IMAGE``) or else from ``images/digests.lock`` (written by ``make images``,
keys ``component`` and ``serving``); without either it is the unpinned development image, which
runs locally (kfp.local ignores images) but is refused when compiling for release.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from samdops import settings
from samdops.errors import ConfigError, PipelineError

DEV_IMAGE = "localhost/samdops-component:dev"
DEV_SERVING_IMAGE = "localhost/samdops-serving:dev"
DIGESTS_LOCK = Path(__file__).resolve().parents[3] / "images" / "digests.lock"
_PINNED = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")


def is_pinned(reference: str) -> bool:
    """Whether ``reference`` names an image by ``@sha256:`` digest."""
    return bool(_PINNED.match(reference))


def _configured(key: str, override: str | None, default: str) -> str:
    if override:
        return override
    if DIGESTS_LOCK.is_file():
        try:
            lock = json.loads(DIGESTS_LOCK.read_text(encoding="utf-8"))
            return str(lock[key])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{DIGESTS_LOCK} is not valid: {exc}; rebuild it with `make images`"
            ) from None
    return default


def component_image() -> str:
    """The component image reference in force (see the module docstring)."""
    return _configured("component", settings.component_image_override(), DEV_IMAGE)


def serving_image() -> str:
    """The serving image reference in force (see the module docstring)."""
    return _configured("serving", settings.serving_image_override(), DEV_SERVING_IMAGE)


def require_pinned(reference: str) -> str:
    """Return ``reference`` if pinned by digest; raise otherwise (release compiles)."""
    if not is_pinned(reference):
        raise PipelineError(
            f"image {reference!r} is not pinned by digest; a release needs "
            "name@sha256:<64 hex> (set SAMDOPS_COMPONENT_IMAGE or run `make images`)"
        )
    return reference
