"""Audit log benchmark: append throughput (one writer, and 8 writer processes at once, on a local
directory and on an S3 server), full verification of a million entries, proof size and time.

Targets (issue 18): at least 1,000 entries/s on S3 with 8 concurrent writers, nothing lost (every
writer's every event is in the log exactly once, and the log verifies); full verification of a
1,000,000-entry log under 20 s; an inclusion proof of at most 20 hashes and a consistency proof,
each in under 1 ms. The single serial writer is today's way of appending, for the ratio.
Run ``python bench/audit.py`` (a few minutes); ``main()`` prints a table.
"""

from __future__ import annotations

import multiprocessing
import random
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from samdops.audit.checkpoint import sign_checkpoint
from samdops.audit.entry import GENESIS
from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Source, SourceKind, Target
from samdops.audit.log import AuditLog
from samdops.audit.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from samdops.audit.signer import LocalEd25519Signer
from samdops.audit.store import LocalEntryStore
from samdops.audit.verify import verify_log

APPENDS = 2_000
VERIFY_ENTRIES = 1_000_000
WRITERS = 8  # processes
THREADS = 16  # appending threads per writer process (a step's, a server's concurrent events)
PER_THREAD = 25
PROOF_TREE = 1_000_000
PROOF_SAMPLES = 2_000
SEED = 6962


def _draft(i: int) -> EventDraft:
    return EventDraft(
        actor=Actor(f"user-{i % 17}", AuthMethod.PASSWORD_OTP),
        action=Action.MODIFY,
        target=Target(f"model/pima-{i % 5}", str(i)),
        source=Source(SourceKind.PIPELINE_RUN, f"run-{i // 100}"),
        prev_hash="sha256:" + "a" * 64,
        new_hash="sha256:" + "b" * 64,
        reason="retrained on new data under PCCP-1",
    )


def bench_append(root: Path) -> float:
    """Durable appends per second through ``AuditLog.append`` on the local store."""
    log = AuditLog.open(root / "append")
    draft = _draft(0)
    start = time.perf_counter()
    for _ in range(APPENDS):
        log.append(draft)
    return APPENDS / (time.perf_counter() - start)


BUCKET = "samdops-bench-audit"


def _s3_store(endpoint: str, prefix: str = "audit") -> Any:
    from minio import Minio

    from samdops.audit.s3_store import S3EntryStore

    client = Minio(
        endpoint.removeprefix("http://"), access_key="bench", secret_key="bench", secure=False
    )
    return S3EntryStore(client, BUCKET, prefix, retention_days=1)


def _open(where: str) -> Any:
    return _s3_store(where) if where.startswith("http://") else LocalEntryStore(where)


def _tagged(writer: int, thread: int, i: int) -> EventDraft:
    return EventDraft(
        actor=Actor(f"svc:writer-{writer}", AuthMethod.SERVICE_ACCOUNT_TOKEN),
        action=Action.READ,
        target=Target("dataset/sepsis", "sha256:" + "c" * 64),
        source=Source(SourceKind.PIPELINE_RUN, f"run-{writer}"),
        new_hash="sha256:" + "c" * 64,
        details={"tag": f"{writer}/{thread}/{i}", "purpose": "monitor", "rows": "4000"},
    )


_REQUESTS = ("create_if_absent", "read_current", "read", "put_checkpoint", "put_tile", "read_tile")


def _writer(where: str, key: str, writer: int, barrier: Any, requests: Any) -> None:
    """One writer process: THREADS threads append PER_THREAD events each, every one durable and
    covered by a signed checkpoint before its append returns. Puts its store calls in
    ``requests``."""
    store = _open(where)
    calls: Counter[str] = Counter()
    for name in _REQUESTS:
        real = getattr(store, name)

        def counted(*a: Any, _real: Any = real, _name: str = name) -> Any:
            calls[_name] += 1
            return _real(*a)

        setattr(store, name, counted)
    log = AuditLog(store, signer=LocalEd25519Signer.load_or_create(key))
    len(log)  # open (read the log) before the clock starts

    def work(thread: int) -> None:
        for i in range(PER_THREAD):
            log.append(_tagged(writer, thread, i))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    barrier.wait()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    requests.put(sum(calls.values()))


def _race(context: Any, target: Any, args: Any) -> float:
    """Start WRITERS processes of ``target`` (``args(writer, barrier)``), release them at once
    through the barrier, and return the seconds until the last one is done."""
    barrier = context.Barrier(WRITERS + 1)
    procs = [context.Process(target=target, args=args(w, barrier)) for w in range(WRITERS)]
    for proc in procs:
        proc.start()
    barrier.wait()
    start = time.perf_counter()
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - start
    if any(proc.exitcode for proc in procs):
        raise RuntimeError("a writer process failed")
    return elapsed


def bench_writers(where: str, key: str) -> tuple[float, int, int, float]:
    """Entries per second with WRITERS processes appending at once; the lost and duplicated
    events (both must be 0) checked on the verified log afterwards; store requests per entry."""
    context = multiprocessing.get_context("forkserver")
    requests = context.Queue()
    elapsed = _race(context, _writer, lambda w, barrier: (where, key, w, barrier, requests))
    store = _open(where)
    verify_log(store, LocalEd25519Signer.load_or_create(key).public_key_pem())
    log = AuditLog(store)
    tags = Counter(dict(r.event.details).get("tag") for r in log.entries())
    expected = {
        f"{w}/{t}/{i}" for w in range(WRITERS) for t in range(THREADS) for i in range(PER_THREAD)
    }
    lost = len(expected - set(tags))
    duplicated = sum(n - 1 for tag, n in tags.items() if tag in expected)
    calls = sum(requests.get() for _ in range(WRITERS))
    return len(expected) / elapsed, lost, duplicated, calls / len(expected)


def _put_many(endpoint: str, writer: int, count: int, barrier: Any) -> None:
    from samdops.store.s3_documents import S3Documents

    documents = S3Documents(_s3_store(endpoint).objects.client, BUCKET, f"floor/{writer}")
    barrier.wait()
    for n in range(count):
        documents.create(f"k{n}", b"x" * 600)


def bench_put_floor(endpoint: str, count: int = 60) -> float:
    """Conditional PUTs per second the S3 server takes from WRITERS processes (the floor)."""
    context = multiprocessing.get_context("forkserver")
    elapsed = _race(context, _put_many, lambda w, barrier: (endpoint, w, count, barrier))
    return WRITERS * count / elapsed


def bench_append_s3(endpoint: str, appends: int = 200) -> float:
    """One writer appending serially (one event per commit) on the S3 server."""
    log = AuditLog(_s3_store(endpoint, "serial"))
    draft = _draft(0)
    start = time.perf_counter()
    for _ in range(appends):
        log.append(draft)
    return appends / (time.perf_counter() - start)


def build_log(root: Path, size: int, signer: LocalEd25519Signer) -> LocalEntryStore:
    """Write ``size`` valid entries directly, as the batches of 256 a busy log is committed in
    plus their bundles and tiles, and a signed checkpoint (no fsync of batches: setup only)."""
    import uuid

    from samdops.audit.layout import integrate
    from samdops.digest import canonical_json

    store = LocalEntryStore(root)
    template = _draft(0).stamp().to_dict()
    tree = MerkleTree()
    prev = GENESIS
    bodies: dict[int, bytes] = {}
    batch: list[bytes] = []
    done = 0
    for seq in range(size):
        event = {**template, "id": str(uuid.uuid4()), "target": f"model/pima-{seq % 5}@{seq}"}
        body = canonical_json({"seq": seq, "prev": prev, "event": event})
        leaf = leaf_hash(body)
        batch.append(body + b"\nsha256:" + leaf.hex().encode() + b"\n")
        bodies[seq] = body
        tree.append(leaf)
        prev = "sha256:" + leaf.hex()
        if len(batch) == 256 or seq == size - 1:
            path = store.entry_path(seq + 1 - len(batch))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"".join(batch))
            batch = []
            done = integrate(store, tree, bodies, done)
            bodies.clear()
    checkpoint = sign_checkpoint("bench", size, tree.root(), signer)
    store.put_checkpoint(size, checkpoint.to_note().encode())
    return store


def bench_proofs() -> dict[str, float]:
    """Inclusion and consistency proofs on a tree of a million leaves."""
    start = time.perf_counter()
    tree = MerkleTree(leaf_hash(i.to_bytes(8, "big")) for i in range(PROOF_TREE))
    build = time.perf_counter() - start
    root = tree.root()
    rng = random.Random(SEED)
    indices = [rng.randrange(PROOF_TREE) for _ in range(PROOF_SAMPLES)]
    start = time.perf_counter()
    proofs = [tree.inclusion_proof(i) for i in indices]
    prove = (time.perf_counter() - start) / PROOF_SAMPLES
    start = time.perf_counter()
    for i, proof in zip(indices, proofs, strict=True):
        verify_inclusion(i, PROOF_TREE, tree.leaf(i), proof, root)
    check = (time.perf_counter() - start) / PROOF_SAMPLES
    olds = [rng.randrange(1, PROOF_TREE) for _ in range(200)]
    start = time.perf_counter()
    cproofs = [tree.consistency_proof(m) for m in olds]
    cprove = (time.perf_counter() - start) / len(olds)
    old_roots = [tree.root(m) for m in olds]
    start = time.perf_counter()
    for m, old_root, proof in zip(olds, old_roots, cproofs, strict=True):
        verify_consistency(m, PROOF_TREE, old_root, root, proof)
    cverify = (time.perf_counter() - start) / len(olds)
    return {
        "build": build,
        "prove_ms": prove * 1e3,
        "verify_ms": check * 1e3,
        "max_hashes": max(len(p) for p in proofs),
        "cprove_ms": cprove * 1e3,
        "cverify_ms": cverify * 1e3,
        "cmax_hashes": max(len(p) for p in cproofs),
    }


def main() -> None:
    from store import moto_server

    with tempfile.TemporaryDirectory(prefix="samdops-bench-audit-") as tmp:
        root = Path(tmp)
        key = str(root / "key.pem")
        signer = LocalEd25519Signer.load_or_create(key)
        appends = bench_append(root)
        local8, local_lost, local_dup, _ = bench_writers(str(root / "writers"), key)
        with moto_server() as endpoint:
            from minio import Minio

            Minio(
                endpoint.removeprefix("http://"), access_key="b", secret_key="b", secure=False
            ).make_bucket(BUCKET, object_lock=True)
            floor = bench_put_floor(endpoint)
            serial_s3 = bench_append_s3(endpoint)
            s3_8, s3_lost, s3_dup, per_entry = bench_writers(endpoint, key)
        start = time.perf_counter()
        store = build_log(root / "big", VERIFY_ENTRIES, signer)
        build = time.perf_counter() - start
        start = time.perf_counter()
        verified = verify_log(store, signer.public_key_pem())
        verify = time.perf_counter() - start
        assert verified.size == VERIFY_ENTRIES
    proofs = bench_proofs()
    events = WRITERS * THREADS * PER_THREAD
    rows = [
        ("append, 1 writer, serial (durable, local)", f"{appends:,.0f} entries/s", "-"),
        (
            f"append, {WRITERS} writers x {THREADS} threads (local), lost/dup",
            f"{local8:,.0f} /s, {local_lost}/{local_dup}",
            "0/0",
        ),
        ("append, 1 writer, serial (S3, Object Lock, moto)", f"{serial_s3:,.0f} entries/s", "-"),
        (
            f"append, {WRITERS} writers x {THREADS} threads (S3), lost/dup",
            f"{s3_8:,.0f} /s, {s3_lost}/{s3_dup}",
            ">= 1000",
        ),
        ("  S3: 8 writers / 1 serial writer", f"{s3_8 / serial_s3:.1f}x", "-"),
        ("  S3: store requests per entry (8 writers)", f"{per_entry:.2f}", "-"),
        (f"  S3 server floor: conditional PUTs/s, {WRITERS} procs", f"{floor:,.0f} /s", "-"),
        (f"  events per writer run ({events:,} in all)", f"{events // WRITERS:,}", "-"),
        (f"build {VERIFY_ENTRIES:,}-entry log (no fsync, setup)", f"{build:.1f} s", "-"),
        (f"full verification, {VERIFY_ENTRIES:,} entries", f"{verify:.2f} s", "< 20 s"),
        (f"build {PROOF_TREE:,}-leaf tree in memory (setup)", f"{proofs['build']:.1f} s", "-"),
        ("inclusion proof, 1M leaves: generate", f"{proofs['prove_ms']:.3f} ms", "< 1 ms"),
        ("inclusion proof, 1M leaves: verify", f"{proofs['verify_ms']:.3f} ms", "< 1 ms"),
        ("inclusion proof, 1M leaves: size", f"{proofs['max_hashes']:.0f} hashes", "<= 20"),
        ("consistency proof, 1M leaves: generate", f"{proofs['cprove_ms']:.3f} ms", "< 1 ms"),
        ("consistency proof, 1M leaves: verify", f"{proofs['cverify_ms']:.3f} ms", "< 1 ms"),
        ("consistency proof, 1M leaves: size", f"{proofs['cmax_hashes']:.0f} hashes", "-"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure':<{width}} | {'result':>22} | {'target':>7} |")
    print(f"|{'-' * (width + 2)}|{'-' * 24}|{'-' * 9}|")
    for name, value, target in rows:
        print(f"| {name:<{width}} | {value:>22} | {target:>7} |")


if __name__ == "__main__":
    main()
