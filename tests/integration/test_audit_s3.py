"""The audit log on a real S3 endpoint (moto server) through the minio client."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from minio.error import S3Error

from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Source, SourceKind, Target
from samdops.audit.log import AuditLog
from samdops.audit.s3_store import S3EntryStore
from samdops.audit.signer import LocalEd25519Signer
from samdops.errors import AuditError


def _draft(n: int, writer: str = "w") -> EventDraft:
    return EventDraft(
        actor=Actor(writer, AuthMethod.SERVICE_ACCOUNT_TOKEN),
        action=Action.CREATE,
        target=Target("thing", str(n)),
        source=Source(SourceKind.PIPELINE_RUN, "run-1"),
    )


@pytest.fixture
def store(s3_server: Any, s3_bucket: str) -> S3EntryStore:
    return S3EntryStore(s3_server.client(), s3_bucket, "audit", retention_days=1)


def test_append_checkpoint_and_verify_on_s3(store: S3EntryStore, tmp_path: Any) -> None:
    signer = LocalEd25519Signer.load_or_create(tmp_path / "k.pem")
    log = AuditLog(store, signer=signer)
    for n in range(5):
        log.append(_draft(n))
    log.checkpoint()
    verified = log.verify(signer.public_key_pem())
    assert verified.size == 5
    fresh = AuditLog(S3EntryStore(store._client, store.bucket, "audit"), signer=signer)
    assert [r.event.target.version for r in fresh.entries()] == ["0", "1", "2", "3", "4"]


def test_conditional_put_refuses_a_second_write(store: S3EntryStore) -> None:
    assert store.create_if_absent(0, b"first") is True
    assert store.create_if_absent(0, b"second") is False
    assert store.read(0) == b"first"


def test_concurrent_writers_on_s3_lose_nothing(store: S3EntryStore, tmp_path: Any) -> None:
    signer = LocalEd25519Signer.load_or_create(tmp_path / "k.pem")
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        log = AuditLog(S3EntryStore(store._client, store.bucket, "audit"), signer=signer)
        try:
            for n in range(8):
                log.append(_draft(n, name))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    log = AuditLog(store, signer=signer)
    log.checkpoint()
    assert log.verify(signer.public_key_pem()).size == 32
    seen = [(r.event.actor.id, r.event.target.version) for r in log.entries()]
    assert sorted(seen) == sorted((f"w{i}", str(n)) for i in range(4) for n in range(8))
    for i in range(4):
        mine = [int(v) for w, v in seen if w == f"w{i}"]
        assert mine == sorted(mine)


def test_locked_entry_cannot_be_deleted_and_overwrite_is_caught(
    store: S3EntryStore, tmp_path: Any
) -> None:
    signer = LocalEd25519Signer.load_or_create(tmp_path / "k.pem")
    log = AuditLog(store, signer=signer)
    log.append(_draft(0))
    log.checkpoint()
    client, key = store._client, "audit/entries/000000000000.entry"
    version = next(iter(client.list_objects(store.bucket, prefix=key, include_version=True)))
    with pytest.raises(S3Error) as info:
        client.remove_object(store.bucket, key, version_id=version.version_id)
    assert info.value.code == "AccessDenied"
    # an administrator writes a new version on top: reads keep the locked original
    import io

    client.put_object(store.bucket, key, io.BytesIO(b"forged"), 6)
    assert store.rewritten() == [key]
    assert AuditLog(store, signer=signer).verify(signer.public_key_pem()).size == 1


def test_unreachable_s3_fails_closed(s3_bucket: str, tmp_path: Any) -> None:
    from minio import Minio

    dead = Minio("127.0.0.1:9", access_key="a", secret_key="b", secure=False)
    log = AuditLog(S3EntryStore(dead, s3_bucket, "audit"))
    with pytest.raises(AuditError, match=r"cannot list audit objects in s3://"):
        log.append(_draft(0))


def _process_writer(endpoint: str, bucket: str, key: str, writer: int) -> None:
    """A writer process: 4 threads, 5 appends each, every one durable and covered on return."""
    from minio import Minio

    client = Minio(
        endpoint.removeprefix("http://"),
        access_key="samdops-test-access",
        secret_key="samdops-test-secret",
        secure=False,
    )
    log = AuditLog(
        S3EntryStore(client, bucket, "audit"), signer=LocalEd25519Signer.load_or_create(key)
    )

    def work(thread: int) -> None:
        for n in range(5):
            log.append(_draft(n, f"p{writer}-t{thread}"))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_eight_writer_processes_on_s3_lose_nothing_and_never_fork(
    s3_server: Any, s3_bucket: str, tmp_path: Any
) -> None:
    import multiprocessing

    key = str(tmp_path / "k.pem")
    signer = LocalEd25519Signer.load_or_create(key)
    context = multiprocessing.get_context("forkserver")
    procs = [
        context.Process(target=_process_writer, args=(s3_server.endpoint, s3_bucket, key, w))
        for w in range(8)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=600)
    assert [proc.exitcode for proc in procs] == [0] * 8
    store = S3EntryStore(s3_server.client(), s3_bucket, "audit")
    verified = AuditLog(store, signer=signer).verify(signer.public_key_pem())
    assert verified.size == 160 and verified.unanchored == 0  # every append covered
    seen = Counter((r.event.actor.id, r.event.target.version) for r in AuditLog(store).entries())
    expected = {(f"p{w}-t{t}", str(n)) for w in range(8) for t in range(4) for n in range(5)}
    assert set(seen) == expected and set(seen.values()) == {1}
    assert len(store.sequence_numbers()) < 160  # threads of a process shared commits
