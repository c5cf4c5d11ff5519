"""S3Store against a real S3 endpoint (moto's server) through the minio client."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from pathlib import Path
from typing import Any

import pytest
from minio.error import S3Error

from samdops.digest import sha256_bytes
from samdops.errors import DigestMismatch, StoreError
from samdops.secrets import EnvSecrets, Secret
from samdops.store import open_store
from samdops.store.s3 import S3Settings, S3Store
from tests.integration.conftest import S3Server, free_port
from tests.store_contract import StoreContract


class TestS3Store(StoreContract):
    @pytest.fixture
    def store(self, s3_store: S3Store) -> S3Store:
        return s3_store

    def stored_keys(self, store: S3Store) -> list[str]:
        client = store._client
        objects = client.list_objects(store.settings.bucket, recursive=True)
        return sorted(o.object_name for o in objects)

    def tamper(self, store: S3Store, digest: str, data: bytes) -> None:
        # Behind the store's back: a new version with other bytes under the digest's key.
        key = store._key(digest)
        store._client.put_object(store.settings.bucket, key, io.BytesIO(data), len(data))


def _key(store: S3Store, digest: str) -> str:
    return store._key(digest)


@pytest.mark.parametrize("size", [1000, 11 << 20], ids=["single-put", "multipart"])
def test_locked_version_cannot_be_deleted(s3_store: S3Store, size: int) -> None:
    digest = s3_store.put_bytes(b"m" * size)
    stat = s3_store._client.stat_object(s3_store.settings.bucket, _key(s3_store, digest))
    assert stat.metadata["x-amz-object-lock-mode"] == "GOVERNANCE"
    with pytest.raises(S3Error) as info:
        s3_store._client.remove_object(
            s3_store.settings.bucket, _key(s3_store, digest), version_id=stat.version_id
        )
    assert info.value.code == "AccessDenied"
    assert s3_store.get_bytes(digest) == b"m" * size


def test_single_put_sends_the_sha256_for_the_server_to_check(s3_store: S3Store) -> None:
    data = b"checked by the server"
    digest = s3_store.put_bytes(data)
    stat = s3_store._client.stat_object(
        s3_store.settings.bucket,
        _key(s3_store, digest),
        extra_headers={"x-amz-checksum-mode": "ENABLED"},
    )
    expected = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert stat.metadata["x-amz-checksum-sha256"] == expected


def test_a_file_changed_during_upload_is_not_stored(
    s3_store: S3Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "data.bin"
    original = b"a" * (11 << 20)
    source.write_bytes(original)
    changed = b"b" + original[1:]  # same size, other bytes: what a concurrent writer leaves

    monkeypatch.setattr(s3_store, "_open_source", lambda path: io.BytesIO(changed))
    with pytest.raises(DigestMismatch, match=sha256_bytes(original)):
        s3_store.put_file(source)
    assert not s3_store.exists(sha256_bytes(original))
    assert not s3_store.exists(sha256_bytes(changed))


def test_put_replaces_an_object_corrupted_behind_the_store(s3_store: S3Store) -> None:
    data = b"good bytes"
    digest = s3_store.put_bytes(data)
    s3_store._client.put_object(
        s3_store.settings.bucket, _key(s3_store, digest), io.BytesIO(b"evil bytes"), 10
    )
    with pytest.raises(DigestMismatch):
        s3_store.get_bytes(digest)
    assert s3_store.put_bytes(data) == digest  # same size, other ETag: stored again
    assert s3_store.get_bytes(digest) == data


def test_retention_is_skipped_without_object_lock(
    s3_server: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    settings = S3Settings(s3_server.endpoint, "samdops-no-lock", retention_days=1)
    store = S3Store(settings, Secret(s3_server.access_key), Secret(s3_server.secret_key))
    store.ensure_bucket(object_lock=False)
    with caplog.at_level(logging.WARNING):
        digest = store.put_bytes(b"unlocked")
    assert "has no Object Lock" in caplog.text
    stat = store._client.stat_object(settings.bucket, store._key(digest))
    assert "x-amz-object-lock-mode" not in stat.metadata


def test_s3_down_gives_a_clear_error() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = S3Store(S3Settings(endpoint, "artifacts"), Secret("ak-x"), Secret("sk-x"))
    digest = sha256_bytes(b"x")
    with pytest.raises(StoreError) as info:
        store.get_bytes(digest)
    message = str(info.value)
    assert f"cannot read {digest} from s3://artifacts/sha256/" in message
    assert f"the S3 endpoint {endpoint} is unreachable (connection refused)" in message
    assert "gave up after 4 attempt(s)" in message
    with pytest.raises(StoreError, match="unreachable"):
        store.put_bytes(b"x")


def test_missing_bucket_is_named(s3_server: S3Server) -> None:
    store = S3Store(
        S3Settings(s3_server.endpoint, "samdops-absent"),
        Secret(s3_server.access_key),
        Secret(s3_server.secret_key),
    )
    with pytest.raises(StoreError, match="bucket samdops-absent does not exist"):
        store.put_bytes(b"x")


def test_open_store_s3_round_trip(s3_server: S3Server, s3_bucket: str) -> None:
    env = {
        "SAMDOPS_SECRET_SAMDOPS_S3__ACCESS_KEY": s3_server.access_key,
        "SAMDOPS_SECRET_SAMDOPS_S3__SECRET_KEY": s3_server.secret_key,
    }
    store = open_store(
        f"s3://{s3_bucket}/team-a", endpoint=s3_server.endpoint, secrets=EnvSecrets(env)
    )
    digest = store.put_bytes(b"through open_store")
    assert store.uri(digest).startswith(f"s3://{s3_bucket}/team-a/sha256/")
    assert store.get_bytes(digest) == b"through open_store"


def test_ensure_bucket_is_idempotent(s3_server: S3Server, s3_bucket: str) -> None:
    store = S3Store(
        S3Settings(s3_server.endpoint, s3_bucket),
        Secret(s3_server.access_key),
        Secret(s3_server.secret_key),
    )
    store.ensure_bucket()
    store.ensure_bucket()
    client: Any = store._client
    assert client.get_bucket_versioning(s3_bucket).status == "Enabled"


@pytest.mark.parametrize("size", [1000, 11 << 20], ids=["single-put", "multipart"])
def test_an_answer_that_does_not_match_what_was_sent_is_refused(
    s3_store: S3Store, size: int
) -> None:
    # The server's answer is checked by us: its echoed sha256 (single PUT) or its ETag (multipart).
    from minio.helpers import ObjectWriteResult

    from samdops.store.s3 import _Plan

    data = b"s" * size
    plan = _Plan.of_bytes(data, s3_store.settings.part_size)
    key = s3_store._key(plan.digest)
    assert plan.multipart == (size > s3_store.settings.part_size)
    wrong = ObjectWriteResult(
        s3_store.settings.bucket,
        key,
        None,
        "0" * 32 + ("-3" if plan.multipart else ""),
        {"x-amz-checksum-sha256": base64.b64encode(b"\0" * 32).decode()},
    )
    with pytest.raises(StoreError, match="S3 stored different bytes than were sent"):
        s3_store._check_written(plan, key, wrong)


def test_a_body_large_enough_for_huge_pages_is_read_whole_and_verified(
    s3_store: S3Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from samdops.store import _pages, s3

    advised: list[bool] = []

    def spy(view: memoryview) -> bool:
        advised.append(_pages.advise_huge_pages(view))
        return advised[-1]

    monkeypatch.setattr(s3, "advise_huge_pages", spy)
    data = bytes(range(256)) * (_pages.OWN_MAPPING // 256) + b"tail"
    digest = s3_store.put_bytes(data)
    assert s3_store.get_bytes(digest) == data
    assert len(advised) == 1  # asked once; the kernel agreeing: tests/unit/test_store_pages.py
    tampered = bytearray(data)
    tampered[len(data) // 2] ^= 0x01
    key = s3_store._key(digest)
    s3_store._client.put_object(
        s3_store.settings.bucket, key, io.BytesIO(bytes(tampered)), len(tampered)
    )
    with pytest.raises(DigestMismatch, match=sha256_bytes(bytes(tampered))):
        s3_store.get_bytes(digest)
