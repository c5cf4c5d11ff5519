"""Several processes and threads append to one log at once: nothing is lost, nothing forks."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from pathlib import Path

from samdops.audit import (
    Action,
    Actor,
    AuditLog,
    AuthMethod,
    EventDraft,
    LocalEd25519Signer,
    Source,
    SourceKind,
    Target,
)

PROCESSES = 3
THREADS = 3  # per process, and in the test process too
PER_THREAD = 15
RACES: list[int] = []  # lost races seen by the test process's own writers


def _draft(writer: str, n: int) -> EventDraft:
    return EventDraft(
        actor=Actor(f"svc-{writer}", AuthMethod.SERVICE_ACCOUNT_TOKEN),
        action=Action.CREATE,
        target=Target(f"dataset/{writer}", str(n)),
        source=Source(SourceKind.PIPELINE_RUN, f"run-{writer}"),
        details={"writer": writer, "n": str(n)},
    )


def _append_many(directory: str, writer: str, shared: AuditLog | None, start: object) -> list[int]:
    if hasattr(start, "wait"):
        start.wait()
    log = shared or AuditLog.open(directory)  # threads share one instance or use their own
    seqs = [log.append(_draft(writer, n)).seq for n in range(PER_THREAD)]
    RACES.append(log.lost_races)
    return seqs


def _process_main(directory: str, name: str, start: object, results: object) -> None:
    shared = AuditLog.open(directory)
    seqs: list[int] = []
    lock = threading.Lock()

    def run(t: int) -> None:
        got = _append_many(directory, f"{name}-t{t}", shared if t % 2 else None, start)
        with lock:
            seqs.extend(got)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((seqs, sum(RACES)))  # type: ignore[attr-defined]


def test_concurrent_processes_and_threads_lose_nothing_and_never_fork(tmp_path: Path) -> None:
    RACES.clear()
    directory = str(tmp_path / "audit")
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_process_main, args=(directory, f"p{i}", start, results))
        for i in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    local_seqs: list[int] = []
    lock = threading.Lock()

    def run(t: int) -> None:
        got = _append_many(directory, f"main-t{t}", None, start)
        with lock:
            local_seqs.extend(got)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    start.set()  # everyone starts appending at once
    for thread in threads:
        thread.join()
    returned = list(local_seqs)
    races = sum(RACES)
    for _ in procs:
        seqs, lost = results.get(timeout=60)
        returned.extend(seqs)
        races += lost
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0

    total = (PROCESSES + 1) * THREADS * PER_THREAD
    # Every append returned a distinct position: no two writers were told they own one entry.
    assert sorted(returned) == list(range(total))
    assert races > 0, "the writers never collided; the test proved nothing"
    # The log holds exactly those entries, one chain, verified end to end.
    signer = LocalEd25519Signer.load_or_create(tmp_path / "key.pem")
    log = AuditLog.open(directory, signer=signer)
    log.checkpoint()
    assert log.verify(signer.public_key_pem()).size == total
    # Nothing lost, nothing duplicated: each (writer, n) appears once, in order per writer.
    seen = [(r.event.detail_map()["writer"], int(r.event.detail_map()["n"])) for r in log.entries()]
    assert Counter(seen).most_common(1)[0][1] == 1
    writers = {w for w, _ in seen}
    assert len(writers) == (PROCESSES + 1) * THREADS
    for writer in writers:
        assert [n for w, n in seen if w == writer] == list(range(PER_THREAD))
