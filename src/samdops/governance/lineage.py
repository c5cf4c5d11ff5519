"""Facts about the code and environment a step runs in, recorded with every model.

In the cluster the component image carries them as environment variables set at build time
(``SAMDOPS_GIT_COMMIT``, ``SAMDOPS_LOCK_SHA256``); locally they are read from the checkout.
"""

from __future__ import annotations

import platform
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from samdops import __version__, settings
from samdops.digest import sha256_file

_SOURCE_ROOT = Path(__file__).resolve().parents[3]  # the checkout, for an editable install


@dataclass(frozen=True)
class CodeVersion:
    git_commit: str | None
    git_dirty: bool | None
    samdops_version: str
    lock_sha256: str | None
    python: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(_SOURCE_ROOT), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def code_version() -> CodeVersion:
    """The git commit (and whether the tree had changes) and the dependency lock digest."""
    commit = settings.git_commit() or _git("rev-parse", "HEAD")
    dirty: bool | None = None
    if not settings.built_in_image() and commit is not None:
        status = _git("status", "--porcelain", "--untracked-files=no")
        dirty = bool(status) if status is not None else None
    lock = settings.lock_sha256()
    lock_file = _SOURCE_ROOT / "requirements" / "app.lock"
    if lock is None and lock_file.is_file():
        lock = sha256_file(lock_file)
    return CodeVersion(
        git_commit=commit,
        git_dirty=dirty,
        samdops_version=__version__,
        lock_sha256=lock,
        python=platform.python_version(),
    )
