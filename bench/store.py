"""Artifact-store benchmark: put/get of 1 MB and 100 MB through S3Store vs the bare minio client.

Both talk to the same S3 endpoint (moto's server, started here on a loopback port and stopped at
the end). On a put the store hashes the content (sha256), looks for it (HEAD), uploads, and checks
the server's answer (MD5s of the parts for a multipart upload); on a get it hashes what it reads
(a body of 32 MiB or more into huge pages). The ratio is store time / bare time, target <= 1.25.
Each put writes new content (no dedupe).
Times are the best of several rounds: other load on a shared machine only adds time, to either
side. Takes under a minute; ``main()`` prints the table.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from minio import Minio

from samdops.secrets import Secret
from samdops.store.s3 import S3Settings, S3Store

MB = 1_000_000
CASES = ((1 * MB, 30), (100 * MB, 8))  # (size, repetitions)
TARGET = 1.25
BUDGET_S = 240.0  # stop repeating once the whole run has taken this long
ACCESS, SECRET = "bench-access", "bench-secret"
BUCKET = "samdops-bench"


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).parent / "moto_server"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
        )
        endpoint = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(endpoint + "/", timeout=2).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("moto server did not start") from None
                    time.sleep(0.1)
            yield endpoint
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _variant(base: bytes, i: int) -> bytes:
    return i.to_bytes(8, "big") + base[8:]


class _Round:
    """One put and one get of fresh content, through the bare client and through the store."""

    def __init__(self, bare: Minio, store: S3Store, data_bare: bytes, data_store: bytes) -> None:
        self.bare, self.store = bare, store
        self.data_bare, self.data_store = data_bare, data_store
        self.key = "bare/" + hashlib.sha256(data_bare).hexdigest()
        self.digest = ""

    def bare_put(self) -> None:
        size = len(self.data_bare)
        part = self.store.settings.part_size
        self.bare.put_object(BUCKET, self.key, io.BytesIO(self.data_bare), size, part_size=part)

    def store_put(self) -> None:
        self.digest = self.store.put_bytes(self.data_store)

    def bare_get(self) -> None:
        response = self.bare.get_object(BUCKET, self.key)
        try:
            response.read()
        finally:
            response.close()
            response.release_conn()

    def store_get(self) -> None:
        self.store.get_bytes(self.digest)

    def clean(self) -> None:
        self.bare.remove_object(BUCKET, self.key)
        self.bare.remove_object(BUCKET, self.store._key(self.digest))


def run(endpoint: str) -> list[tuple[str, str, float, float]]:
    """(size, op, bare seconds, store seconds) per case: the best of the rounds."""
    bare = Minio(endpoint.removeprefix("http://"), ACCESS, SECRET, secure=False)
    bare.make_bucket(BUCKET)  # unversioned, so that each round can delete what it wrote
    store = S3Store(S3Settings(endpoint, BUCKET), Secret(ACCESS), Secret(SECRET))
    started = time.monotonic()
    rows = []
    for size, reps in CASES:
        base = os.urandom(size)
        times: dict[str, list[float]] = {
            k: [] for k in ("bare put", "store put", "bare get", "store get")
        }
        for i in range(reps + 1):  # round 0 warms up and is not counted
            one = _Round(bare, store, _variant(base, 2 * i), _variant(base, 2 * i + 1))
            steps = [("bare put", one.bare_put), ("store put", one.store_put)]
            steps += [("bare get", one.bare_get), ("store get", one.store_get)]
            if i % 2:  # alternate who goes first
                steps = [steps[1], steps[0], steps[3], steps[2]]
            measured = {name: _timed(fn) for name, fn in steps}
            one.clean()
            if i:
                for name, value in measured.items():
                    times[name].append(value)
            if i >= 2 and time.monotonic() - started > BUDGET_S:
                break
        for op in ("put", "get"):
            b, s = min(times[f"bare {op}"]), min(times[f"store {op}"])
            rows.append((f"{size // MB} MB", op, b, s))
    return rows


def main() -> None:
    with moto_server() as endpoint:
        rows = run(endpoint)
    head = ("size", "op", "bare MB/s", "store MB/s", "extra ms", "ratio", "target")
    print("| {:>6} | {:<3} | {:>9} | {:>10} | {:>8} | {:>5} | {:>6} |".format(*head))
    print("|" + "|".join("-" * (width + 2) for width in (6, 3, 9, 10, 8, 5, 6)) + "|")
    for size, op, bare, ours in rows:
        mb = int(size.split()[0])
        ratio = ours / bare
        mark = "ok" if ratio <= TARGET else "over"
        print(
            f"| {size:>6} | {op:<3} | {mb / bare:>9.0f} | {mb / ours:>10.0f} | "
            f"{(ours - bare) * 1000:>8.1f} | {ratio:>5.2f} | {mark:>6} |"
        )
    print(
        f"ratio = store time / bare minio time (best of n); target <= {TARGET}. 'extra ms' is the "
        "store's added time per operation: sha256 of the content (a single-part put is one "
        "conditional PUT; a multipart put first checks that the key is absent)."
    )


if __name__ == "__main__":
    main()
