"""The tests every ArtifactStore must pass; subclassed once per implementation.

A subclass provides the ``store`` fixture and three hooks that reach behind the store's back:
``stored_keys`` (what objects exist), ``tamper`` (replace stored bytes) and nothing else.
"""

from __future__ import annotations

import errno
import hashlib
import io
import threading
from pathlib import Path
from typing import IO, Any

import pytest

from samdops.digest import sha256_bytes
from samdops.errors import DigestMismatch, StoreError, VerificationError
from samdops.store import ArtifactStore

MiB = 1 << 20


class FailingReader(io.RawIOBase):
    """A source that yields ``good`` bytes and then fails like a disk read error."""

    def __init__(self, data: bytes, fail_after: int) -> None:
        self._data = data
        self._fail_after = fail_after
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._fail_after:
            raise OSError(errno.EIO, "Input/output error (simulated)")
        n = min(len(buffer), self._fail_after - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


class StoreContract:
    """Behaviour shared by all stores (content addressing, write-once, verified reads)."""

    big_size = 12 * MiB + 7  # more than one S3 part at the 5 MiB part size used in tests

    def stored_keys(self, store: Any) -> list[str]:
        raise NotImplementedError

    def tamper(self, store: Any, digest: str, data: bytes) -> None:
        raise NotImplementedError

    def test_round_trip_bytes(self, store: ArtifactStore) -> None:
        data = b"clinical model v1\n" * 100
        digest = store.put_bytes(data)
        assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
        assert store.exists(digest)
        assert store.get_bytes(digest) == data

    def test_round_trip_file_large(self, store: ArtifactStore, tmp_path: Path) -> None:
        data = bytes(range(256)) * (self.big_size // 256) + b"tail"
        source = tmp_path / "model.bin"
        source.write_bytes(data)
        digest = store.put_file(source)
        assert digest == sha256_bytes(data)
        out = store.get_file(digest, tmp_path / "out" / "model.bin")
        assert out.read_bytes() == data
        assert store.get_bytes(digest) == data

    def test_empty_content(self, store: ArtifactStore) -> None:
        digest = store.put_bytes(b"")
        assert store.get_bytes(digest) == b""

    def test_same_content_twice_is_stored_once(self, store: ArtifactStore, tmp_path: Path) -> None:
        source = tmp_path / "a.txt"
        source.write_bytes(b"same")
        first = store.put_bytes(b"same")
        second = store.put_file(source)
        assert first == second
        assert len(self.stored_keys(store)) == 1

    def test_racing_writers_both_succeed_with_one_object(self, store: ArtifactStore) -> None:
        data = b"raced content " * 50_000
        barrier = threading.Barrier(4)
        results: list[str] = []
        errors: list[BaseException] = []

        def write() -> None:
            try:
                barrier.wait()
                results.append(store.put_bytes(data))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert results == [sha256_bytes(data)] * 4
        assert len(self.stored_keys(store)) == 1
        assert store.get_bytes(results[0]) == data

    def test_changed_bytes_are_detected_on_read(self, store: ArtifactStore, tmp_path: Path) -> None:
        digest = store.put_bytes(b"approved model weights")
        self.tamper(store, digest, b"tampered model weights")
        with pytest.raises(DigestMismatch, match=digest):
            store.get_bytes(digest)
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        with pytest.raises(DigestMismatch, match=digest):
            store.get_file(digest, downloads / "dest.bin")
        assert list(downloads.iterdir()) == []  # neither the file nor a temporary one

    @pytest.mark.parametrize("where", ["first", "middle", "last"])
    def test_a_flipped_byte_in_large_content_is_detected_on_read(
        self, store: ArtifactStore, tmp_path: Path, where: str
    ) -> None:
        data = bytes(range(256)) * (self.big_size // 256)
        digest = store.put_bytes(data)
        at = {"first": 0, "middle": len(data) // 2, "last": len(data) - 1}[where]
        tampered = bytearray(data)
        tampered[at] ^= 0x80
        self.tamper(store, digest, bytes(tampered))
        with pytest.raises(DigestMismatch, match=sha256_bytes(bytes(tampered))):
            store.get_bytes(digest)
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        with pytest.raises(DigestMismatch, match=digest):
            store.get_file(digest, downloads / "model.bin")
        assert list(downloads.iterdir()) == []

    def test_missing_digest_names_it(self, store: ArtifactStore) -> None:
        digest = sha256_bytes(b"never stored")
        assert not store.exists(digest)
        with pytest.raises(StoreError, match=digest):
            store.get_bytes(digest)

    def test_malformed_digest_is_refused(self, store: ArtifactStore) -> None:
        with pytest.raises(VerificationError, match="not a sha256 digest"):
            store.get_bytes("sha256:1234")

    def test_failure_mid_upload_leaves_nothing(
        self, store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        data = b"x" * self.big_size
        source = tmp_path / "big.bin"
        source.write_bytes(data)

        def failing_open(path: Path) -> IO[bytes]:
            return io.BufferedReader(FailingReader(data, fail_after=len(data) - 100))

        monkeypatch.setattr(store, "_open_source", failing_open)
        with pytest.raises(StoreError, match="Input/output error"):
            store.put_file(source)
        assert not store.exists(sha256_bytes(data))
        assert self.stored_keys(store) == []

    def test_uri_and_repr_carry_no_credentials(self, store: ArtifactStore) -> None:
        digest = store.put_bytes(b"x")
        assert digest.split(":", 1)[1] in store.uri(digest)
        for text in (store.uri(digest), repr(store)):
            assert "@" not in text
