"""The audit log on a real S3 endpoint (moto server) through the minio client."""

from __future__ import annotations

import threading
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


def test_governed_registry_keeps_its_audit_log_on_s3(
    s3_server: Any, s3_bucket: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from samdops.governance.roles import Role
    from samdops.governance.service import GovernedRegistry
    from samdops.governance.signatures import Meaning

    monkeypatch.setenv("SAMDOPS_AUDIT_LOG", f"s3://{s3_bucket}/audit")
    monkeypatch.setenv("SAMDOPS_S3_ENDPOINT", s3_server.endpoint)
    monkeypatch.setenv("SAMDOPS_S3_RETENTION_DAYS", "1")
    monkeypatch.setenv("SAMDOPS_SECRET_SAMDOPS_S3__ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("SAMDOPS_SECRET_SAMDOPS_S3__SECRET_KEY", s3_server.secret_key)
    home = tmp_path / "home"
    gov = GovernedRegistry(home, sinks=[])
    gov.users.bootstrap_admin("admin", "Ada Admin", "admin-password-1")
    admin = gov.users.authenticate("admin", "admin-password-1")
    gov.users.add(
        admin, "quinn", "Quinn Person", {Role.QA_REVIEWER}, temporary_password="temporary-password"
    )
    gov.users.change_password("quinn", "temporary-password", "reviewer-password")
    fields = {
        "status": "registered",
        "model": {"sha256": "sha256:" + "ab" * 32},
        "gate": {"passed": True, "criteria": []},
        "metrics": {},
    }
    ref = gov.register_model("pima", fields, trained_by="eve", run="r1").id
    assert gov.sign(ref, Meaning.REVIEW, "quinn", "reviewer-password").state.value == "reviewed"
    assert not (home / "audit").exists()  # nothing local: the log is on S3
    keys = [
        o.object_name
        for o in s3_server.client().list_objects(s3_bucket, prefix="audit/entries/", recursive=True)
    ]
    assert len(keys) == len(gov.audit) == 3
    assert gov.audit.verify(gov.audit_key.public_key_pem()).size == 3
    first = next(
        iter(s3_server.client().list_objects(s3_bucket, prefix=keys[0], include_version=True))
    )
    with pytest.raises(S3Error) as info:
        s3_server.client().remove_object(s3_bucket, keys[0], version_id=first.version_id)
    assert info.value.code == "AccessDenied"
