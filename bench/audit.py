"""Audit log benchmark: append throughput, full verification of 100k entries, proof size/time.

Targets: full verification of 100k entries < 5 s; an inclusion proof < 1 ms and <= 20 hashes for a
log of a million entries. Run ``python bench/audit.py`` (about a minute); ``main()`` prints a table.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from samdops.audit.checkpoint import sign_checkpoint
from samdops.audit.entry import GENESIS, encode_entry
from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Source, SourceKind, Target
from samdops.audit.log import AuditLog
from samdops.audit.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from samdops.audit.signer import LocalEd25519Signer
from samdops.audit.store import LocalEntryStore
from samdops.audit.verify import verify_log

APPENDS = 2_000
VERIFY_ENTRIES = 100_000
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


def bench_append_s3(appends: int = 200) -> float:
    """Appends per second on an S3 endpoint (moto on loopback) with conditional PUTs."""
    from minio import Minio
    from store import moto_server

    from samdops.audit.s3_store import S3EntryStore

    with moto_server() as endpoint:
        client = Minio(
            endpoint.removeprefix("http://"), access_key="bench", secret_key="bench", secure=False
        )
        client.make_bucket("samdops-bench-audit", object_lock=True)
        log = AuditLog(S3EntryStore(client, "samdops-bench-audit", "audit", retention_days=1))
        draft = _draft(0)
        start = time.perf_counter()
        for _ in range(appends):
            log.append(draft)
        return appends / (time.perf_counter() - start)


def build_log(root: Path, size: int, signer: LocalEd25519Signer) -> LocalEntryStore:
    """Write ``size`` valid entries directly (no fsync, bench only) and a signed checkpoint."""
    store = LocalEntryStore(root)
    entries = root / "entries"
    entries.mkdir(parents=True)
    tree = MerkleTree()
    prev = GENESIS
    for seq in range(size):
        data, leaf = encode_entry(seq, prev, _draft(seq).stamp())
        store.entry_path(seq).write_bytes(data)
        tree.append(leaf)
        prev = "sha256:" + leaf.hex()
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
    for m, proof in zip(olds, cproofs, strict=True):
        verify_consistency(m, PROOF_TREE, tree.root(m), root, proof)
    return {
        "build": build,
        "prove_ms": prove * 1e3,
        "verify_ms": check * 1e3,
        "max_hashes": max(len(p) for p in proofs),
        "cprove_ms": cprove * 1e3,
        "cmax_hashes": max(len(p) for p in cproofs),
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="samdops-bench-audit-") as tmp:
        root = Path(tmp)
        signer = LocalEd25519Signer.load_or_create(root / "key.pem")
        appends = bench_append(root)
        appends_s3 = bench_append_s3()
        start = time.perf_counter()
        store = build_log(root / "big", VERIFY_ENTRIES, signer)
        build = time.perf_counter() - start
        start = time.perf_counter()
        verified = verify_log(store, signer.public_key_pem())
        verify = time.perf_counter() - start
        assert verified.size == VERIFY_ENTRIES
    proofs = bench_proofs()
    rows = [
        ("append throughput (durable, local store)", f"{appends:,.0f} entries/s", "-"),
        ("append throughput (S3, Object Lock, moto)", f"{appends_s3:,.0f} entries/s", "-"),
        (f"build {VERIFY_ENTRIES:,}-entry log (no fsync, setup)", f"{build:.1f} s", "-"),
        (f"full verification, {VERIFY_ENTRIES:,} entries", f"{verify:.2f} s", "< 5 s"),
        (f"build {PROOF_TREE:,}-leaf tree in memory (setup)", f"{proofs['build']:.1f} s", "-"),
        ("inclusion proof, 1M leaves: generate", f"{proofs['prove_ms']:.3f} ms", "< 1 ms"),
        ("inclusion proof, 1M leaves: verify", f"{proofs['verify_ms']:.3f} ms", "-"),
        ("inclusion proof, 1M leaves: size", f"{proofs['max_hashes']:.0f} hashes", "<= 20"),
        ("consistency proof, 1M leaves: generate", f"{proofs['cprove_ms']:.3f} ms", "-"),
        ("consistency proof, 1M leaves: size", f"{proofs['cmax_hashes']:.0f} hashes", "-"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure':<{width}} | {'result':>16} | {'target':>7} |")
    print(f"|{'-' * (width + 2)}|{'-' * 18}|{'-' * 9}|")
    for name, value, target in rows:
        print(f"| {name:<{width}} | {value:>16} | {target:>7} |")


if __name__ == "__main__":
    main()
