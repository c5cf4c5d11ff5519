"""The state location: write-once documents, race-free numbering, users as snapshots, and the
settings that name it (issue 15). S3 is exercised in tests/integration/test_state_s3.py."""

from __future__ import annotations

import multiprocessing
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from samdops import settings
from samdops.audit.store import LocalEntryStore, state_entry_store
from samdops.errors import AuditError, AuthenticationFailed, ConfigError, StoreError
from samdops.governance.identity import UserDirectory
from samdops.governance.keys import platform_signer
from samdops.governance.roles import Role
from samdops.store.documents import LocalDocuments, create_next, latest, numbers
from samdops.store.s3_documents import S3Documents
from samdops.store.state import StateLocation, open_state


def test_a_document_is_written_once_read_only_and_listed(tmp_path: Path) -> None:
    docs = LocalDocuments(tmp_path)
    assert docs.create("a/b/1.json", b"first") is True
    assert docs.create("a/b/1.json", b"second") is False  # never replaced
    assert docs.read("a/b/1.json") == b"first"
    assert docs.read("a/b/2.json") is None
    assert stat.S_IMODE((tmp_path / "a" / "b" / "1.json").stat().st_mode) == 0o444
    (tmp_path / "a" / ".1.json.x.tmp").write_bytes(b"half")  # a crashed writer's temporary file
    assert docs.names("a") == ["b/"]
    assert docs.names("a/b") == ["1.json"]
    assert docs.names("missing") == []


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/etc/passwd", "a//b", "a/./b", "a b"])
def test_keys_that_could_leave_the_location_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(StoreError, match=r"^invalid document key "):
        LocalDocuments(tmp_path).create(key, b"x")
    assert list(tmp_path.iterdir()) == []


def test_numbers_are_claimed_without_races_by_threads(tmp_path: Path) -> None:
    docs = LocalDocuments(tmp_path)
    with ThreadPoolExecutor(8) as pool:
        claimed = list(
            pool.map(
                lambda i: create_next(docs, "seq", "json", lambda n: f"{i}".encode()), range(64)
            )
        )
    assert sorted(claimed) == list(range(1, 65))
    assert numbers(docs, "seq", "json") == list(range(1, 65))
    found = latest(docs, "seq", "json")
    assert found is not None and found[0] == 64


def _claim(root: str, count: int) -> list[int]:
    docs = LocalDocuments(root)
    return [create_next(docs, "seq", "json", lambda n: b"x") for _ in range(count)]


def test_numbers_are_claimed_without_races_by_processes(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        claimed = pool.starmap(_claim, [(str(tmp_path), 10)] * 4)
    assert sorted(n for part in claimed for n in part) == list(range(1, 41))


def test_a_user_change_that_lost_a_race_is_made_again_on_the_winner(tmp_path: Path) -> None:
    users = UserDirectory(tmp_path)
    users.bootstrap_admin("admin", "Ada Admin", "admin-password-1")
    admin = users.authenticate("admin", "admin-password-1")
    with ThreadPoolExecutor(6) as pool:
        list(
            pool.map(
                lambda i: users.add(
                    admin, f"u{i}", f"U {i}", {Role.AUDITOR}, temporary_password="t" * 12
                ),
                range(6),
            )
        )
    assert sorted(u.id for u in users.users()) == ["admin", *(f"u{i}" for i in range(6))]
    snapshots = sorted((tmp_path / "identity" / "users").iterdir())
    assert len(snapshots) == 1 + 6  # one folder of records per user: the admin and the six added


def test_failed_attempts_are_kept_though_the_attempt_raises(tmp_path: Path) -> None:
    users = UserDirectory(tmp_path)
    users.bootstrap_admin("admin", "Ada Admin", "admin-password-1")
    for left in ("2 attempt(s) left", "1 attempt(s) left", "signing is now locked"):
        with pytest.raises(AuthenticationFailed, match=re.escape(left)):
            users.authenticate("admin", "wrong-password-1")
    with pytest.raises(AuthenticationFailed, match="signing is locked for 'admin' after 3"):
        users.authenticate("admin", "admin-password-1")


def test_the_state_location_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAMDOPS_STATE", raising=False)
    monkeypatch.setenv("SAMDOPS_HOME", str(tmp_path / "home"))
    assert settings.state_location() == str(tmp_path / "home")
    assert settings.state_location(None, tmp_path / "other") == str(tmp_path / "other")
    assert settings.state_location(f"file://{tmp_path}/x") == str(tmp_path / "x")
    monkeypatch.setenv("SAMDOPS_STATE", "s3://bucket/prefix")
    assert settings.state_location(None, tmp_path / "other") == "s3://bucket/prefix"
    assert settings.state_location(tmp_path / "flag") == str(tmp_path / "flag")  # the flag wins


def test_a_local_state_keeps_today_s_layout(tmp_path: Path) -> None:
    state = open_state(tmp_path)
    assert state.directory == tmp_path
    digest = state.artifacts.put_bytes(b"model")
    assert (tmp_path / "store" / "sha256" / digest.removeprefix("sha256:")).is_file()
    log = state_entry_store(state)
    assert isinstance(log, LocalEntryStore) and log.root == tmp_path / "audit"


class _Response:
    def __init__(self, data: bytes, checksum: str) -> None:
        self._data = data
        self.headers = {"x-amz-checksum-sha256": checksum}

    def read(self) -> bytes:
        return self._data

    def close(self) -> None: ...

    def release_conn(self) -> None: ...


class _Version:
    object_name = "p/doc.json"
    version_id = "v1"
    is_delete_marker = False


class _SwappedClient:
    """An S3 client whose object bytes no longer match the checksum recorded at write time."""

    def list_objects(self, *args: Any, **kwargs: Any) -> list[Any]:
        return [_Version()]

    def get_object(self, *args: Any, **kwargs: Any) -> _Response:
        import base64
        import hashlib

        recorded = base64.b64encode(hashlib.sha256(b"original").digest()).decode()
        return _Response(b"swapped", recorded)


def test_an_s3_document_that_does_not_match_its_recorded_checksum_is_refused() -> None:
    docs = S3Documents(_SwappedClient(), "bucket", "p")
    with pytest.raises(StoreError, match=r"does not match the sha256 the server recorded"):
        docs.read("doc.json")
    audit = S3Documents(_SwappedClient(), "bucket", "p", what="audit object", error=AuditError)
    with pytest.raises(AuditError, match=r"^audit object s3://bucket/p/doc.json does not match"):
        audit.read("doc.json")


def test_a_shared_state_refuses_a_local_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    state = StateLocation("s3://bucket/state", object(), S3Documents(object(), "bucket", "state"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as info:
        platform_signer(state, "audit-ed25519.pem")
    assert str(info.value) == (
        "the state location s3://bucket/state is shared by every step, so its signing key must "
        "be too: set VAULT_ADDR so that the Vault Transit key signs"
    )
