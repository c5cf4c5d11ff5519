"""Where samdops keeps its local state: ``$SAMDOPS_HOME``, else ``./.samdops``."""

from __future__ import annotations

import os
from pathlib import Path


def samdops_home(override: str | Path | None = None) -> Path:
    """The home directory (not created): ``override``, ``$SAMDOPS_HOME`` or ``./.samdops``."""
    if override:
        return Path(override).expanduser().resolve()
    env = os.environ.get("SAMDOPS_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return (Path.cwd() / ".samdops").resolve()
