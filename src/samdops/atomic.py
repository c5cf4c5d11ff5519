"""Atomic file writes: write to a temporary file beside the target, fsync, then rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(
    path: str | Path, data: bytes, *, exclusive: bool = False, mode: int = 0o644
) -> None:
    """Write ``data`` to ``path`` so that readers see either nothing or the whole content.

    With ``exclusive=True`` the write fails with :class:`FileExistsError` when ``path`` already
    exists, even if another process creates it concurrently (the rename is done by ``link``).
    ``mode`` sets the permissions (temporary files start private).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            os.link(tmp, target)
        else:
            os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(
    path: str | Path, text: str, *, exclusive: bool = False, mode: int = 0o644
) -> None:
    """Write UTF-8 ``text`` atomically; see :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"), exclusive=exclusive, mode=mode)


def fsync_dir(directory: Path) -> None:
    """Make the entries of ``directory`` (a file created, renamed or deleted) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
