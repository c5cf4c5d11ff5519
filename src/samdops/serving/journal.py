"""The server's prediction journal: durable before the answer, uploaded in batches.

:meth:`Journal.commit`, awaited on the server's event loop, returns once its record is on
disk (written and fsynced). Every record that arrives in one pass of the loop is written with
one fsync (group commit), so concurrent requests share the cost of durability.

Records go to the *active* segment; a segment is sealed when it holds ``max_records``, when it
is ``max_age`` seconds old (a sealer thread sees to an idle one), or when the hour changes, and
the uploader thread stores each sealed segment in the state location
(:func:`samdops.serving.records.segment_key`: named by its sha256, so an upload repeated after a
crash is the same document) and then deletes it.

After a crash, :meth:`Journal.open` cuts a torn last line (a record whose fsync never finished,
so no answer was sent for it), seals what is left and uploads every sealed segment before the
server answers again: every answered request has exactly one record.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from samdops.atomic import fsync_dir
from samdops.errors import ConfigError, StoreError
from samdops.serving.records import encode, segment_key
from samdops.store.state import StateLocation

log = logging.getLogger(__name__)


class Journal:
    """The journal of one model name's server in ``directory``."""

    def __init__(
        self,
        directory: Path,
        state: StateLocation,
        model_name: str,
        *,
        max_records: int = 5000,
        max_age: float = 10.0,
        upload_every: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.state = state
        self.model_name = model_name
        self.max_records = max_records
        self.max_age = max_age
        self.upload_every = upload_every
        self.clock = clock
        self._active_dir = directory / "active"
        self._sealed_dir = directory / "sealed"
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        self._count = 0
        self._opened_at = 0.0
        self._hour = ""
        self._next = 0
        self._closing = False
        self._lock_file: IO[bytes] | None = None
        self._threads: list[threading.Thread] = []
        self._upload_now = threading.Event()
        self._stop = threading.Event()
        self._sealer_done = threading.Event()
        self._file_lock = threading.Lock()  # the event loop writes, the sealer thread seals
        # (the record's line, the hour it was answered in, its future), until the loop's flush
        self._waiting: list[tuple[bytes, str, asyncio.Future[None]]] = []
        self.committed = 0  # records made durable since open
        self.commits = 0  # fsyncs that made them durable
        self.upload_failures = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def open(self) -> int:
        """Lock the directory, recover what a killed server left, upload it, and start the
        sealer and the uploader. Returns how many records recovery uploaded."""
        try:
            self._active_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._sealed_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._lock_file = open(self.directory / "lock", "ab")  # noqa: SIM115 - held open
        except OSError as exc:
            raise ConfigError(f"cannot use the journal directory {self.directory}: {exc}") from None
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another server uses the journal {self.directory}; give each server its own"
            ) from None
        for path in sorted(self._active_dir.glob("*.jsonl")):
            self._seal(path, _cut_torn_tail(path))
        numbers = [int(p.stem) for d in (self._active_dir, self._sealed_dir) for p in d.glob("*")]
        self._next = max(numbers, default=-1) + 1
        recovered = self.upload_sealed()
        for target, name in ((self._seal_loop, "journal-sealer"), (self._upload_loop, "uploader")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return recovered

    def close(self) -> None:
        """Seal, upload (best effort), and stop the threads."""
        self._closing = True
        self._stop.set()
        self._upload_now.set()
        for thread in self._threads:
            thread.join(timeout=30)
        with contextlib.suppress(StoreError):
            self.upload_sealed()
        if self._lock_file is not None:
            self._lock_file.close()

    # -- writing -------------------------------------------------------------------------------

    def _seal_loop(self) -> None:
        """Seal the active segment once it is ``max_age`` old (so that a quiet server's
        records are uploaded too), and for the last time on close."""
        while not self._stop.wait(self._seconds_to_seal()):
            self._seal_if_due()
        self._seal_if_due(final=True)
        self._sealer_done.set()

    def _write(self, lines: list[tuple[bytes, str]]) -> StoreError | None:
        """Write ``lines`` (record, hour answered) and fsync once; why not, or ``None``."""
        with self._file_lock:
            try:
                for data, hour in lines:
                    if self._file is None or self._count >= self.max_records or hour != self._hour:
                        self._roll(hour)
                    assert self._file is not None
                    self._file.write(data)
                    self._count += 1
                assert self._file is not None
                self._file.flush()
                os.fsync(self._file.fileno())
            except OSError as exc:
                return StoreError(f"cannot write the prediction journal {self.directory}: {exc}")
            self.committed += len(lines)
            self.commits += 1
        return None

    async def commit(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` durably from the event loop; return when it is on disk.

        Every record that arrives in one pass of the loop is written with one fsync, in the
        loop's own thread (no hand-over to another thread and back)."""
        if self._closing:
            raise StoreError("the journal is closed; the server is stopping")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiting.append((encode(record), str(record["time"])[:13], future))
        if len(self._waiting) == 1:
            loop.call_soon(self._flush_waiting)
        await future

    def _flush_waiting(self) -> None:
        batch, self._waiting = self._waiting, []
        error = self._write([(data, hour) for data, hour, _ in batch])
        for _, _, future in batch:
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

    def _roll(self, hour: str) -> None:
        """Seal the active segment (if any) and open the next one, for records of ``hour``."""
        self._seal_active()
        self._path = self._active_dir / f"{self._next:012d}.jsonl"
        self._next += 1
        self._file = open(self._path, "xb")  # noqa: SIM115 - the active segment stays open
        fsync_dir(self._active_dir)
        self._count = 0
        self._opened_at = self.clock()
        self._hour = hour

    def _seconds_to_seal(self) -> float:
        if self._file is None:
            return self.max_age
        return max(0.05, self._opened_at + self.max_age - self.clock())

    def _seal_if_due(self, *, final: bool = False) -> None:
        with self._file_lock:
            if self._file is None:
                return
            if final or self.clock() - self._opened_at >= self.max_age:
                self._seal_active()
                self._upload_now.set()

    def _seal_active(self) -> None:
        if self._file is None or self._path is None:
            return
        self._file.close()
        self._file = None
        self._seal(self._path, self._count)
        self._path = None

    def _seal(self, path: Path, records: int) -> None:
        if records == 0:
            path.unlink()
        else:
            path.rename(self._sealed_dir / path.name)
            fsync_dir(self._sealed_dir)
        fsync_dir(self._active_dir)

    # -- uploading -----------------------------------------------------------------------------

    def pending_segments(self) -> int:
        """Sealed segments not yet in the state location."""
        return len(list(self._sealed_dir.glob("*.jsonl")))

    def upload_sealed(self) -> int:
        """Store every sealed segment in the state location, then delete it; records stored."""
        stored = 0
        for path in sorted(self._sealed_dir.glob("*.jsonl")):
            data = path.read_bytes()
            first = json.loads(data.split(b"\n", 1)[0])
            self.state.documents.create(segment_key(self.model_name, first["time"], data), data)
            stored += data.count(b"\n")
            path.unlink()
            fsync_dir(self._sealed_dir)
        return stored

    def _upload_loop(self) -> None:
        while True:
            self._upload_now.wait(timeout=self.upload_every)
            self._upload_now.clear()
            done = self._sealer_done.is_set()
            try:
                self.upload_sealed()
            except (StoreError, OSError) as exc:  # kept on disk; tried again next round
                self.upload_failures += 1
                log.warning("prediction segments not uploaded yet: %s", type(exc).__name__)
            if done:
                return


def _cut_torn_tail(path: Path) -> int:
    """Cut ``path`` after its last complete line; the number of complete lines."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with open(path, "r+b") as f:
            f.truncate(end)
            os.fsync(f.fileno())
    return data[:end].count(b"\n")
