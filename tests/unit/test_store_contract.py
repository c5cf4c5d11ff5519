"""LocalStore against the shared store contract, and open_store's parsing of locations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from samdops.errors import ConfigError
from samdops.secrets import EnvSecrets
from samdops.store import open_store
from samdops.store.local import LocalStore
from tests.store_contract import StoreContract


class TestLocalStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalStore:
        return LocalStore(tmp_path / "store")

    def stored_keys(self, store: LocalStore) -> list[str]:
        objects = store.root / "sha256"
        assert list((store.root / "tmp").glob("*")) == []  # no staging file left behind
        return sorted(p.name for p in objects.iterdir()) if objects.exists() else []

    def tamper(self, store: LocalStore, digest: str, data: bytes) -> None:
        path = store.root / "sha256" / digest.split(":", 1)[1]
        os.chmod(path, 0o644)
        path.write_bytes(data)


def test_open_store_local_paths(tmp_path: Path) -> None:
    assert isinstance(open_store(tmp_path), LocalStore)
    assert isinstance(open_store(f"file://{tmp_path}"), LocalStore)


def test_unsupported_scheme_does_not_echo_credentials() -> None:
    with pytest.raises(ConfigError) as info:
        open_store("gs://user:hunter2@bucket/x")
    assert "hunter2" not in str(info.value)


def test_s3_location_with_credentials_is_refused() -> None:
    with pytest.raises(ConfigError, match="must not contain credentials") as info:
        open_store("s3://AKIAEXAMPLE:hunter2@bucket/x", endpoint="http://127.0.0.1:9")
    assert "hunter2" not in str(info.value) and "AKIAEXAMPLE" not in str(info.value)


def test_s3_endpoint_with_credentials_is_refused() -> None:
    secrets = EnvSecrets({})
    with pytest.raises(ConfigError, match="must not contain credentials") as info:
        open_store("s3://bucket/x", endpoint="http://ak:hunter2@127.0.0.1:9", secrets=secrets)
    assert "hunter2" not in str(info.value)


def test_s3_needs_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAMDOPS_S3_ENDPOINT", raising=False)
    with pytest.raises(ConfigError, match="SAMDOPS_S3_ENDPOINT"):
        open_store("s3://bucket/x", secrets=EnvSecrets({}))


def test_s3_credentials_come_from_the_secrets_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "SAMDOPS_SECRET_SAMDOPS_S3__ACCESS_KEY": "AKIDPLANTED",
        "SAMDOPS_SECRET_SAMDOPS_S3__SECRET_KEY": "planted-secret-value",
    }
    store = open_store(
        "s3://my-bucket/runs/", endpoint="http://127.0.0.1:9", secrets=EnvSecrets(env)
    )
    assert repr(store) == "S3Store('http://127.0.0.1:9', 's3://my-bucket/runs')"
    digest = "sha256:" + "ab" * 32
    assert store.uri(digest) == f"s3://my-bucket/runs/sha256/{'ab' * 32}"


def test_s3_missing_credentials_say_which_secret() -> None:
    from samdops.errors import SecretsUnavailable

    with pytest.raises(SecretsUnavailable, match="SAMDOPS_SECRET_SAMDOPS_S3__"):
        open_store("s3://my-bucket/x", endpoint="http://127.0.0.1:9", secrets=EnvSecrets({}))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"endpoint": "ftp://host"}, "must look like"),
        ({"endpoint": "http://host/path"}, "must look like"),
        ({"bucket": "A_B"}, "not a valid S3 bucket name"),
        ({"retention_days": -1}, "retention_days"),
        ({"retention_mode": "FOREVER"}, "retention_mode"),
        ({"part_size": 1024}, "part_size"),
    ],
)
def test_s3_settings_are_validated(kwargs: dict[str, object], message: str) -> None:
    from samdops.store.s3 import S3Settings

    args: dict[str, object] = {"endpoint": "http://127.0.0.1:9000", "bucket": "artifacts"}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        S3Settings(**args)  # type: ignore[arg-type]
