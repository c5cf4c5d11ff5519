"""The local filesystem store: ``<root>/sha256/<hex>``, write-once, atomic, verified on read."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO

from samdops.atomic import atomic_write_bytes
from samdops.digest import parse_digest
from samdops.errors import DigestMismatch, StoreError

_CHUNK = 1 << 20


class LocalStore:
    """Content-addressed store in a directory. Objects are read-only files named by digest."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def _path(self, digest: str) -> Path:
        hexdigest = parse_digest(digest).split(":", 1)[1]
        return self.root / "sha256" / hexdigest

    def put_bytes(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        target = self._path(digest)
        if not target.exists():
            with contextlib.suppress(FileExistsError):  # another writer stored it first
                atomic_write_bytes(target, data, exclusive=True)
            os.chmod(target, 0o444)
        return digest

    def put_file(self, path: str | Path) -> str:
        source = Path(path)
        staging = self.root / "tmp"
        staging.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=staging, suffix=".part")
        try:
            h = hashlib.sha256()
            with self._open_source(source) as src, os.fdopen(fd, "wb") as dst:
                for chunk in iter(lambda: src.read(_CHUNK), b""):
                    h.update(chunk)
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            digest = "sha256:" + h.hexdigest()
            target = self._path(digest)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(tmp, target)
                os.chmod(target, 0o444)
            except FileExistsError:
                pass
            return digest
        except OSError as exc:
            raise StoreError(f"cannot store {source} in {self.root}: {exc.strerror}") from exc
        finally:
            os.unlink(tmp)

    def _open_source(self, path: Path) -> IO[bytes]:
        """Open the file to store (tests override this to simulate read failures)."""
        return open(path, "rb")

    def get_bytes(self, digest: str) -> bytes:
        path = self._path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"{digest} is not in the store at {self.root}") from None
        got = "sha256:" + hashlib.sha256(data).hexdigest()
        if got != parse_digest(digest):
            raise DigestMismatch(
                f"stored object {digest} in {self.root} now hashes to {got}; "
                "it was changed behind the store's back"
            )
        return data

    def get_file(self, digest: str, dest: str | Path) -> Path:
        data = self.get_bytes(digest)
        atomic_write_bytes(dest, data)
        return Path(dest)

    def exists(self, digest: str) -> bool:
        return self._path(digest).is_file()

    def uri(self, digest: str) -> str:
        return self._path(digest).resolve().as_uri()
