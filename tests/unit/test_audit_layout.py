"""Batches, tlog-tiles bundles and tiles, group commit, and the attacks on each (AT-04, AT-11)."""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path

import pytest

from samdops.audit import layout
from samdops.audit.entry import GENESIS, encode_entry
from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Source, SourceKind, Target
from samdops.audit.log import AuditLog
from samdops.audit.merkle import MerkleTree, leaf_hash
from samdops.audit.signer import LocalEd25519Signer
from samdops.audit.store import LocalEntryStore
from samdops.audit.tiles import bundle_key, encode_tile, index_path, tile_key
from samdops.audit.verify import build_tree, verify_log
from samdops.errors import AuditError, AuditVerificationError


def _draft(n: int, writer: str = "w") -> EventDraft:
    return EventDraft(
        actor=Actor(writer, AuthMethod.SERVICE_ACCOUNT_TOKEN),
        action=Action.READ,
        target=Target("dataset/sepsis", "sha256:" + "a" * 64),
        source=Source(SourceKind.PIPELINE_RUN, "run-1"),
        details={"n": str(n), "purpose": "monitor", "rows": "10"},
    )


def _write_batches(store: LocalEntryStore, sizes: list[int]) -> MerkleTree:
    """Commit batches of the given sizes directly (as concurrent writers' group commits do)."""
    tree, prev, seq = MerkleTree(), GENESIS, 0
    for size in sizes:
        data = []
        for _ in range(size):
            entry, leaf = encode_entry(seq, prev, _draft(seq).stamp())
            data.append(entry)
            tree.append(leaf)
            prev, seq = "sha256:" + leaf.hex(), seq + 1
        assert store.create_if_absent(seq - size, b"".join(data))
    return tree


def _bulk_log(root: Path, size: int) -> tuple[LocalEntryStore, MerkleTree]:
    """A log of ``size`` entries in batches of 256 with their bundles and tiles (fast setup)."""
    store = LocalEntryStore(root)
    tree, prev, bodies, done = MerkleTree(), GENESIS, {}, 0
    for start in range(0, size, 256):
        batch = []
        for seq in range(start, min(start + 256, size)):
            entry, leaf = encode_entry(seq, prev, _draft(seq).stamp())
            batch.append(entry)
            bodies[seq] = entry.split(b"\n", 1)[0]
            tree.append(leaf)
            prev = "sha256:" + leaf.hex()
        path = store.entry_path(start)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(batch))
        done = layout.integrate(store, tree, bodies, done)
    return store, tree


def _overwrite(path: Path, data: bytes) -> None:
    os.chmod(path, 0o644)
    path.write_bytes(data)


@pytest.mark.parametrize(
    ("index", "path"),
    [(0, "000"), (7, "007"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_tile_index_paths_follow_c2sp_tlog_tiles(index: int, path: str) -> None:
    assert index_path(index) == path
    assert tile_key(2, index) == f"tile/2/{path}" and bundle_key(index) == f"tile/entries/{path}"


def test_a_full_bundle_and_its_tile_are_written_and_read_back(tmp_path: Path) -> None:
    signer = LocalEd25519Signer.load_or_create(tmp_path / "k.pem")
    log = AuditLog.open(tmp_path / "audit", signer=signer)
    for n in range(300):
        log.append(_draft(n))
    store = LocalEntryStore(tmp_path / "audit")
    tile = store.read_tile("tile/0/000")
    assert tile is not None and len(tile) == 256 * 32
    assert store.read_tile("tile/0/001") is None  # only full tiles
    fresh = AuditLog.open(tmp_path / "audit")
    chunks = list(layout.read_chunks(store))
    assert chunks[0].bundled and (chunks[0].start, chunks[0].end) == (0, 256)
    assert [r.event.detail_map()["n"] for r in fresh.entries()] == [str(n) for n in range(300)]
    assert verify_log(store, signer.public_key_pem()).size == 300


def test_threads_share_commits_and_lose_nothing(tmp_path: Path) -> None:
    signer = LocalEd25519Signer.load_or_create(tmp_path / "k.pem")
    log = AuditLog.open(tmp_path / "audit", signer=signer)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for n in range(40):
                log.append(_draft(n, f"w{t}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = LocalEntryStore(tmp_path / "audit")
    seen = Counter((r.event.actor.id, r.event.detail_map()["n"]) for r in log.entries())
    assert len(seen) == 320 and set(seen.values()) == {1}
    assert len(store.sequence_numbers()) < 320  # some commits carried several entries
    assert verify_log(store, signer.public_key_pem()).size == 320


def test_two_logs_on_one_directory_never_fork(tmp_path: Path) -> None:
    signer = LocalEd25519Signer.load_or_create(tmp_path / "k.pem")
    logs = [AuditLog.open(tmp_path / "audit", signer=signer) for _ in range(2)]

    def work(i: int) -> None:
        for n in range(30):
            logs[i % 2].append(_draft(n, f"w{i}"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = LocalEntryStore(tmp_path / "audit")
    verified = verify_log(store, signer.public_key_pem())
    assert verified.size == 120
    tags = Counter((r.event.actor.id, r.event.detail_map()["n"]) for r in AuditLog(store).entries())
    assert len(tags) == 120


def test_a_flipped_byte_in_a_bundle_names_its_entry(tmp_path: Path) -> None:
    store, _ = _bulk_log(tmp_path / "audit", 600)
    path = store.root / bundle_key(1)
    data = bytearray(path.read_bytes())
    at = data.index(b'"seq":300')
    data[at + 7] ^= 0x01  # "300" -> "301"
    _overwrite(path, bytes(data))
    with pytest.raises(AuditVerificationError) as info:
        build_tree(store)
    assert info.value.index == 300 and str(info.value).startswith("entry 300 was altered")


def test_a_rewritten_tile_hash_names_its_entry(tmp_path: Path) -> None:
    store, _ = _bulk_log(tmp_path / "audit", 300)
    path = store.root / tile_key(0, 0)
    data = bytearray(path.read_bytes())
    data[42 * 32] ^= 0xFF
    _overwrite(path, bytes(data))
    with pytest.raises(AuditVerificationError, match=r"^entry 42 was altered") as info:
        build_tree(store)
    assert info.value.index == 42


def test_a_truncated_bundle_is_named(tmp_path: Path) -> None:
    store, _ = _bulk_log(tmp_path / "audit", 256)
    path = store.root / bundle_key(0)
    _overwrite(path, path.read_bytes()[:-10])
    with pytest.raises(AuditVerificationError, match=r"^entry 255: bundle 0 ends inside entry 255"):
        build_tree(store)


def test_a_bundle_rewritten_with_a_matching_tile_still_breaks_the_chain(tmp_path: Path) -> None:
    signer = LocalEd25519Signer.load_or_create(tmp_path / "k.pem")
    store, tree = _bulk_log(tmp_path / "audit", 512)
    bodies = _bundle_bodies(store, 0)
    forged, _ = encode_entry(7, "sha256:" + tree.leaf(6).hex(), _draft(999).stamp())
    bodies[7] = forged.split(b"\n", 1)[0]
    from samdops.audit.tiles import encode_bundle

    _overwrite(store.root / bundle_key(0), encode_bundle(bodies))
    _overwrite(store.root / tile_key(0, 0), encode_tile([leaf_hash(b) for b in bodies]))
    with pytest.raises(AuditVerificationError, match=r"^entry 8 does not match the chain"):
        verify_log(store, signer.public_key_pem(), require_checkpoint=False)


def _bundle_bodies(store: LocalEntryStore, index: int) -> list[bytes]:
    from samdops.audit.tiles import decode_bundle

    return decode_bundle(index, store.read_tile(bundle_key(index)) or b"")


def test_a_deleted_bundle_is_read_from_its_batches_and_written_again(tmp_path: Path) -> None:
    signer = LocalEd25519Signer.load_or_create(tmp_path / "k.pem")
    store, _ = _bulk_log(tmp_path / "audit", 300)
    original = store.read_tile(bundle_key(0))
    (store.root / bundle_key(0)).unlink()
    log = AuditLog(store, signer=signer)
    assert len(log) == 300  # from the batches
    log.append(_draft(300))  # the next writer integrates what is missing
    assert store.read_tile(bundle_key(0)) == original


def test_a_writer_refuses_a_bundle_that_differs_from_the_batches(tmp_path: Path) -> None:
    store = LocalEntryStore(tmp_path / "audit")
    _write_batches(store, [200, 55])
    assert store.put_tile(tile_key(0, 0), b"\x00" * (256 * 32))  # a stale or forged tile
    log = AuditLog(store)
    with pytest.raises(AuditError, match="tile/0/000 differs from what its entries give"):
        log.append(_draft(255))


def test_an_object_slipped_inside_a_batch_is_named(tmp_path: Path) -> None:
    store = LocalEntryStore(tmp_path / "audit")
    _write_batches(store, [10, 5])
    entry, _ = encode_entry(3, GENESIS, _draft(3).stamp())
    assert store.create_if_absent(3, entry)
    with pytest.raises(AuditVerificationError, match=r"^entry 3: an object claims to begin at"):
        build_tree(store)
    with pytest.raises(AuditError, match=r"^the audit log is damaged, refusing to use it: entry 3"):
        len(AuditLog(store))


def test_a_batch_across_a_bundle_boundary_is_refused(tmp_path: Path) -> None:
    store = LocalEntryStore(tmp_path / "audit")
    _write_batches(store, [250, 10])
    with pytest.raises(
        AuditVerificationError, match=r"^entry 256: the batch that begins with entry 250"
    ):
        build_tree(store)


def test_a_deleted_batch_is_a_gap(tmp_path: Path) -> None:
    store = LocalEntryStore(tmp_path / "audit")
    _write_batches(store, [3, 4, 2])
    store.entry_path(3).unlink()
    with pytest.raises(
        AuditVerificationError, match=r"^entry 3 is missing: the log jumps from entry 2 to entry 7"
    ):
        build_tree(store)


def test_an_event_too_large_for_an_entry_is_refused(tmp_path: Path) -> None:
    log = AuditLog.open(tmp_path / "audit")
    big = {f"k{i}": "x" * 4000 for i in range(20)}
    draft = EventDraft(
        actor=Actor("alice", AuthMethod.PASSWORD),
        action=Action.QUERY,
        target=Target("query/x", "1"),
        source=Source(SourceKind.CLI, "samdops"),
        details=big,
    )
    with pytest.raises(AuditError, match=r"^the audit event is \d+ bytes stored; at most 65535"):
        log.append(draft)
    assert len(log) == 0


def test_higher_tiles_are_checked_against_the_entries(tmp_path: Path) -> None:
    store = LocalEntryStore(tmp_path / "audit")
    tree = MerkleTree(leaf_hash(i.to_bytes(4, "big")) for i in range(65536))
    hashes = [tree.node(8, i) for i in range(256)]
    assert store.put_tile(tile_key(1, 0), encode_tile(hashes))
    assert layout.check_tiles(store, tree) == 1
    hashes[9] = b"\x00" * 32
    _overwrite(store.root / tile_key(1, 0), encode_tile(hashes))
    with pytest.raises(AuditVerificationError, match=r"^entry 2304: tile 1/0 holds a hash"):
        layout.check_tiles(store, tree)


def test_parallel_verification_matches_and_names_the_same_entry(tmp_path: Path) -> None:
    store, tree = _bulk_log(tmp_path / "audit", 64 * 256 + 100)
    assert build_tree(store, workers=2).root() == tree.root() == build_tree(store, workers=1).root()
    path = store.root / bundle_key(40)
    data = bytearray(path.read_bytes())
    data[data.index(b'"seq":10300') + 9] ^= 0x01
    _overwrite(path, bytes(data))
    for workers in (1, 2):
        with pytest.raises(AuditVerificationError, match=r"^entry 10300 was altered") as info:
            build_tree(store, workers=workers)
        assert info.value.index == 10300


def test_a_writer_that_reads_another_writers_bundle_integrates_around_it(tmp_path: Path) -> None:
    signer = LocalEd25519Signer.load_or_create(tmp_path / "k.pem")
    first = AuditLog.open(tmp_path / "audit", signer=signer)
    second = AuditLog.open(tmp_path / "audit", signer=signer)
    for n in range(100):
        first.append(_draft(n, "first"))
    for n in range(500):  # the second writer fills (and bundles) entries 100 to 599
        second.append(_draft(n, "second"))
    first.append(_draft(100, "first"))  # catches up through bundle 1, read from the store
    for n in range(101, 270):
        first.append(_draft(n, "first"))  # fills bundle 2 (entries 512 to 767)
    store = LocalEntryStore(tmp_path / "audit")
    assert [store.read_tile(bundle_key(i)) is not None for i in range(4)] == [True] * 3 + [False]
    assert verify_log(store, signer.public_key_pem()).size == 770


def test_one_callers_bad_draft_fails_only_that_caller_in_a_shared_commit(tmp_path: Path) -> None:
    from samdops.audit.log import _Request

    log = AuditLog.open(tmp_path / "audit")

    def refuse(_records: object) -> EventDraft:
        raise AuditError("this caller's draft is refused")

    # what a leader does with the requests of several threads that queued at once
    bad, good = _Request(refuse, cover=False), _Request(lambda _r: _draft(1), cover=False)
    log._lead([bad, good])
    assert str(bad.error) == "this caller's draft is refused" and bad.record is None
    assert good.error is None and good.record is not None and good.record.seq == 0
    assert len(AuditLog.open(tmp_path / "audit")) == 1
