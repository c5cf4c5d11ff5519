"""Secret values planted in Vault never show up in logs, output, artifacts, errors or reprs.

The S3 credentials and a component secret are planted in the real OpenBao server with random
values; the store is opened with them through AppRole, used, and driven into every failure we
report. Then everything observable is scanned for the values (and for the Vault credentials).
"""

from __future__ import annotations

import io
import logging
import pickle
import secrets
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from samdops.errors import SamdopsError
from samdops.secrets import Secret
from samdops.secrets.vault import AppRoleAuth, TokenAuth, VaultSecrets
from samdops.store import open_store
from samdops.store.s3 import S3Settings, S3Store
from tests.integration.conftest import S3Server, VaultServer, free_port


def _all_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


def _files_under(root: Path) -> Iterator[bytes]:
    for path in root.rglob("*"):
        if path.is_file():
            yield path.read_bytes()


def test_planted_secrets_never_leak(
    vault_bootstrapped: VaultServer,
    s3_server: S3Server,
    s3_bucket: str,
    approle_login: Callable[[str], AppRoleAuth],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, including urllib3, hvac and minio
    access_key = "AKLEAK" + secrets.token_hex(8).upper()
    secret_key = "sk-leak-" + secrets.token_hex(16)
    db_password = "pw-leak-" + secrets.token_hex(16)
    root = vault_bootstrapped.client()
    root.secrets.kv.v2.create_or_update_secret(
        "s3", secret={"access_key": access_key, "secret_key": secret_key}, mount_point="samdops"
    )
    root.secrets.kv.v2.create_or_update_secret(
        "train/db", secret={"password": db_password}, mount_point="samdops"
    )
    auth = approle_login("train")
    vault = VaultSecrets(vault_bootstrapped.addr, auth)
    planted = [access_key, secret_key, db_password]
    credentials = [auth.role_id.reveal(), auth.secret_id.reveal(), vault_bootstrapped.root_token]

    seen: list[str] = []  # every repr, str and error text produced below
    errors: list[BaseException] = []

    def expect_error(fn: Callable[[], object]) -> None:
        with pytest.raises(SamdopsError) as info:
            fn()
        errors.append(info.value)

    # 1. Normal use: open the store with credentials from Vault, write and read artifacts.
    monkeypatch.setenv("SAMDOPS_S3_RETENTION_DAYS", "1")
    store: Any = open_store(f"s3://{s3_bucket}/leaks", endpoint=s3_server.endpoint, secrets=vault)
    source = tmp_path / "work" / "model.bin"
    source.parent.mkdir()
    source.write_bytes(b"model " * 100_000)
    digest = store.put_file(source)
    small = store.put_bytes(b"metrics")
    store.get_file(digest, tmp_path / "work" / "copy.bin")
    assert store.get_bytes(small) == b"metrics"
    password = vault.read("samdops/train/db")["password"]
    assert password.reveal() == db_password
    print(f"using {password} for {store!r} via {vault!r}")  # what careless code might do
    logging.getLogger("samdops.test").info("secret %s, store %r, auth %r", password, store, auth)
    seen += [repr(store), str(store), repr(vault), repr(auth), repr(password), f"{password}"]
    seen += [repr(vault.read("samdops/s3")), repr(TokenAuth(Secret(credentials[2])))]
    with pytest.raises(TypeError):
        pickle.dumps(password)

    # 2. Every failure we report, each carrying the credentials in its context.
    expect_error(lambda: vault.read("samdops/ingest/source"))  # permission denied
    expect_error(lambda: vault.read("samdops/train/absent"))  # no such secret
    down = f"http://127.0.0.1:{free_port()}"
    expect_error(lambda: VaultSecrets(down, auth).read("samdops/s3"))  # Vault unreachable
    bad = AppRoleAuth(auth.role_id, Secret("wrong-" + secret_key), role="samdops-train")
    expect_error(lambda: VaultSecrets(vault_bootstrapped.addr, bad).read("samdops/s3"))
    expect_error(
        lambda: VaultSecrets(vault_bootstrapped.addr, TokenAuth(Secret(secret_key))).read(
            "samdops/s3"
        )
    )
    dead = S3Store(S3Settings(down, s3_bucket), Secret(access_key), Secret(secret_key))
    expect_error(lambda: dead.put_bytes(b"x"))  # S3 unreachable
    expect_error(lambda: dead.get_bytes(digest))
    store._client.put_object(s3_bucket, store._key(small), io.BytesIO(b"evil!!!"), 7)
    expect_error(lambda: store.get_bytes(small))  # digest mismatch
    expect_error(lambda: open_store(f"s3://{access_key}:{secret_key}@{s3_bucket}/x"))
    expect_error(
        lambda: open_store(
            f"s3://{s3_bucket}/x", endpoint=f"http://{access_key}:{secret_key}@127.0.0.1:9"
        )
    )
    seen += [_all_text(e) for e in errors]

    # 3. Scan logs, captured output, written files, objects in the bucket, errors and reprs.
    out = capsys.readouterr()
    logs = caplog.text + "".join(
        repr(r.args) + r.getMessage() + (r.exc_text or "") for r in caplog.records
    )
    haystacks = [logs, out.out, out.err, *seen]
    files = list(_files_under(tmp_path))
    client = s3_server.client()
    for obj in client.list_objects(s3_bucket, recursive=True, include_version=True):
        response = client.get_object(s3_bucket, obj.object_name, version_id=obj.version_id)
        files.append(response.read())
        response.close()
        response.release_conn()
    assert "retry" in logs and "permission denied" in "".join(seen)  # the scan saw real traffic
    for value in planted + credentials:
        for text in haystacks:
            assert value not in text
        for blob in files:
            assert value.encode() not in blob
