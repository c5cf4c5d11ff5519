"""The one configured reference of the component image, and the digest-pinning rule.

The reference comes from ``$SAMDOPS_COMPONENT_IMAGE`` or else from ``images/digests.lock``
(written by ``make images``); without either it is the unpinned development image, which
runs locally (kfp.local ignores images) but is refused when compiling for release.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from samdops import settings
from samdops.errors import ConfigError, PipelineError

DEV_IMAGE = "localhost/samdops-component:dev"
DIGESTS_LOCK = Path(__file__).resolve().parents[3] / "images" / "digests.lock"
_PINNED = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")


def is_pinned(reference: str) -> bool:
    """Whether ``reference`` names an image by ``@sha256:`` digest."""
    return bool(_PINNED.match(reference))


def component_image() -> str:
    """The component image reference in force (see the module docstring)."""
    override = settings.component_image_override()
    if override:
        return override
    if DIGESTS_LOCK.is_file():
        try:
            lock = json.loads(DIGESTS_LOCK.read_text(encoding="utf-8"))
            return str(lock["component"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{DIGESTS_LOCK} is not valid: {exc}; rebuild it with `make images`"
            ) from None
    return DEV_IMAGE


def require_pinned(reference: str) -> str:
    """Return ``reference`` if pinned by digest; raise otherwise (release compiles)."""
    if not is_pinned(reference):
        raise PipelineError(
            f"image {reference!r} is not pinned by digest; a release needs "
            "name@sha256:<64 hex> (set SAMDOPS_COMPONENT_IMAGE or run `make images`)"
        )
    return reference
