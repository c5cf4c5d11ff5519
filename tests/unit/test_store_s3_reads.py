"""How S3Store reads an object's body: verified on every path, whatever the server sends.

The S3 client is replaced by one that answers from canned HTTP responses, parsed by http.client
as on a real connection, so that each way a body can arrive (or fail to) is tested offline. Small
chunk sizes make bodies of a few KiB take the chunked and the threaded paths.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from samdops.errors import DigestMismatch, StoreError
from samdops.retry import waiting_disabled
from samdops.secrets import Secret
from samdops.store import s3
from samdops.store.s3 import S3Settings, S3Store

ENDPOINT = "http://127.0.0.1:9"
CHUNK = 4096
DATA = bytes(range(256)) * 70 + b"tail"  # 17924 bytes: 4 full chunks and a partial one


class _Source(io.RawIOBase):
    """The bytes a server sent; the connection is reset after ``reset_after`` of them."""

    def __init__(self, raw: bytes, reset_after: int | None) -> None:
        self._raw = raw
        self._pos = 0
        self._reset_after = len(raw) if reset_after is None else reset_after

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._reset_after and self._pos < len(self._raw):
            raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
        n = min(len(buffer), self._reset_after - self._pos, 1000)  # a socket returns what it has
        buffer[:n] = self._raw[self._pos : self._pos + n]
        self._pos += n
        return n


class _Socket:
    def __init__(self, raw: bytes, reset_after: int | None) -> None:
        self._raw = raw
        self._reset_after = reset_after

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_Source(self._raw, self._reset_after))


def _answer(
    body: bytes,
    *,
    length: int | None = None,
    chunked: bool = False,
    gzipped: bool = False,
    reset_after: int | None = None,
) -> urllib3.HTTPResponse:
    """A GET response as urllib3 gives it to minio, over an http.client response."""
    import http.client

    wire = gzip.compress(body, mtime=0) if gzipped else body
    headers = ["Content-Type: application/octet-stream"]
    if gzipped:
        headers.append("Content-Encoding: gzip")
    if chunked:
        headers.append("Transfer-Encoding: chunked")
        pieces = [wire[i : i + 5000] for i in range(0, len(wire), 5000)]
        wire = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    else:
        headers.append(f"Content-Length: {len(wire) if length is None else length}")
    head = "HTTP/1.1 200 OK\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n"
    raw = head.encode() + wire
    original = http.client.HTTPResponse(
        _Socket(raw, None if reset_after is None else len(head) + reset_after),  # type: ignore[arg-type]
        method="GET",
    )
    original.begin()
    return urllib3.HTTPResponse(
        body=original,
        headers=dict(original.getheaders()),
        status=original.status,
        preload_content=False,
        original_response=original,
    )


def _plain_answer(body: bytes) -> urllib3.HTTPResponse:
    """A response over a plain file object, without http.client underneath."""
    return urllib3.HTTPResponse(
        body=io.BytesIO(body),
        headers={"Content-Length": str(len(body))},
        status=200,
        preload_content=False,
    )


@pytest.fixture(params=["inline", "threaded"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> S3Store:
    monkeypatch.setattr(s3, "_CHUNK", CHUNK)
    monkeypatch.setattr(s3, "_PARALLEL_FROM", 1 if request.param == "threaded" else 1 << 40)
    return S3Store(S3Settings(ENDPOINT, "artifacts"), Secret("ak"), Secret("sk"))


def _serve(
    store: S3Store, monkeypatch: pytest.MonkeyPatch, answer: Callable[[], urllib3.HTTPResponse]
) -> list[str]:
    """Answer every GET with a fresh ``answer()``; return the keys asked for."""
    asked: list[str] = []

    def get_object(bucket: str, key: str) -> urllib3.HTTPResponse:
        assert bucket == "artifacts"
        asked.append(key)
        return answer()

    monkeypatch.setattr(store.client, "get_object", get_object)
    return asked


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def _no_waiting() -> Iterator[None]:
    with waiting_disabled():
        yield


@pytest.mark.parametrize(
    "answer",
    [
        lambda data: _answer(data),
        lambda data: _answer(data, chunked=True),
        lambda data: _answer(data, gzipped=True),
        _plain_answer,
    ],
    ids=["content-length", "chunked", "gzip", "without-http.client"],
)
@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1, len(DATA)])
def test_every_way_a_body_arrives_is_read_whole(
    store: S3Store,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    answer: Callable[[bytes], urllib3.HTTPResponse],
    size: int,
) -> None:
    data = DATA[:size]
    asked = _serve(store, monkeypatch, lambda: answer(data))
    got = store.get_bytes(_digest(data))
    assert type(got) is bytes
    assert got == data
    out = store.get_file(_digest(data), tmp_path / "out" / "model.bin")
    assert out.read_bytes() == data
    assert asked == [store._key(_digest(data))] * 2  # one GET per read, no HEAD


def test_a_body_is_held_in_memory_once(store: S3Store, monkeypatch: pytest.MonkeyPatch) -> None:
    data = DATA * 60  # about 1 MiB
    answer = _answer(data)
    _serve(store, monkeypatch, lambda: answer)
    tracemalloc.start()
    try:
        got = store.get_bytes(_digest(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == data
    assert peak < len(data) * 1.1  # read straight into the bytes returned: no second copy


@pytest.mark.parametrize("where", [0, CHUNK - 1, CHUNK, len(DATA) // 2, len(DATA) - 1])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_flipped_byte_anywhere_is_detected(
    store: S3Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, where: int, chunked: bool
) -> None:
    served = bytearray(DATA)
    served[where] ^= 0x01
    _serve(store, monkeypatch, lambda: _answer(bytes(served), chunked=chunked))
    digest = _digest(DATA)
    message = (
        f"stored object {digest} at s3://artifacts/sha256/{digest[7:]} now hashes to "
        f"{_digest(bytes(served))}; it was changed behind the store's back"
    )
    with pytest.raises(DigestMismatch) as info:
        store.get_bytes(digest)
    assert str(info.value) == message
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with pytest.raises(DigestMismatch) as info:
        store.get_file(digest, downloads / "model.bin")
    assert str(info.value) == message
    assert list(downloads.iterdir()) == []


def test_extra_bytes_past_the_stored_object_are_not_returned(
    store: S3Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A body longer than its Content-Length: the object is what Content-Length covers.
    _serve(store, monkeypatch, lambda: _answer(DATA + b"appended", length=len(DATA)))
    assert store.get_bytes(_digest(DATA)) == DATA


@pytest.mark.parametrize("short", [1, CHUNK, len(DATA) - 1])
def test_a_body_cut_short_is_retried_then_refused(
    store: S3Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, short: int
) -> None:
    sent = len(DATA) - short
    asked = _serve(store, monkeypatch, lambda: _answer(DATA[:sent], length=len(DATA)))
    digest = _digest(DATA)
    expected = (
        f"cannot read {digest} from s3://artifacts/sha256/{digest[7:]}: the connection to "
        f"{ENDPOINT} closed after {sent} of {len(DATA)} bytes; gave up after 4 attempt(s)"
    )
    with pytest.raises(StoreError) as info:
        store.get_bytes(digest)
    assert str(info.value).startswith(expected)
    assert len(asked) == 4
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with pytest.raises(StoreError) as info:
        store.get_file(digest, downloads / "model.bin")
    assert str(info.value).startswith(expected)
    assert list(downloads.iterdir()) == []


def test_a_connection_reset_mid_body_is_retried(
    store: S3Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    answers = iter([_answer(DATA, reset_after=CHUNK + 10), _answer(DATA)])
    asked = _serve(store, monkeypatch, lambda: next(answers))
    assert store.get_file(_digest(DATA), tmp_path / "model.bin").read_bytes() == DATA
    assert len(asked) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]  # the broken attempt's file went


def test_a_connection_that_keeps_breaking_is_named(
    store: S3Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve(store, monkeypatch, lambda: _answer(DATA, reset_after=CHUNK + 10))
    with pytest.raises(StoreError, match=f"the connection to {ENDPOINT} broke "):
        store.get_bytes(_digest(DATA))


class _SlowDisk(io.BufferedWriter):
    def write(self, data: Any) -> int:
        time.sleep(0.002)  # the download runs ahead of the writes
        return super().write(data)


def test_a_slow_destination_gets_every_chunk_intact(
    store: S3Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _serve(store, monkeypatch, lambda: _answer(DATA))
    monkeypatch.setattr(s3.os, "fdopen", lambda fd, mode: _SlowDisk(io.FileIO(fd, mode)))
    assert store.get_file(_digest(DATA), tmp_path / "model.bin").read_bytes() == DATA


class _FullDisk(io.BufferedWriter):
    """A destination file on a disk that fills up after one chunk."""

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > CHUNK:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


def test_a_failing_destination_is_reported_and_cleaned_up(
    store: S3Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _serve(store, monkeypatch, lambda: _answer(DATA))
    monkeypatch.setattr(s3.os, "fdopen", lambda fd, mode: _FullDisk(io.FileIO(fd, mode)))
    with pytest.raises(OSError, match="No space left on device"):
        store.get_file(_digest(DATA), tmp_path / "model.bin")
    assert list(tmp_path.iterdir()) == []
