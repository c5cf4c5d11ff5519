"""VaultSecrets against a real OpenBao server: auth methods, KV v2, least privilege, failures."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import hvac.exceptions
import pytest
import requests

from samdops.errors import SecretsUnavailable
from samdops.secrets import Secret, read_keys, secrets_from_env
from samdops.secrets.vault import AppRoleAuth, KubernetesAuth, TokenAuth, VaultSecrets
from tests.integration.conftest import VaultServer, free_port, self_signed_ca_pem


@pytest.fixture(scope="module")
def planted(vault_bootstrapped: VaultServer) -> VaultServer:
    root = vault_bootstrapped.client()
    kv = root.secrets.kv.v2
    kv.create_or_update_secret(
        "s3", secret={"access_key": "AK", "secret_key": "SK"}, mount_point="samdops"
    )
    kv.create_or_update_secret("train/db", secret={"password": "train-pw"}, mount_point="samdops")
    kv.create_or_update_secret(
        "ingest/source", secret={"token": "ingest-tk"}, mount_point="samdops"
    )
    return vault_bootstrapped


def test_approle_reads_its_own_secrets(
    planted: VaultServer, approle_login: Callable[[str], AppRoleAuth]
) -> None:
    vault = VaultSecrets(planted.addr, approle_login("train"))
    assert vault.read("samdops/train/db")["password"].reveal() == "train-pw"
    s3 = read_keys(vault, "samdops/s3", "access_key", "secret_key")
    assert s3["secret_key"] == Secret("SK")


def test_one_role_cannot_read_another_roles_secret(
    planted: VaultServer, approle_login: Callable[[str], AppRoleAuth]
) -> None:
    auth = approle_login("train")
    # The server itself answers 403 to the train token for the ingest path.
    token = planted.client(token="").auth.approle.login(
        auth.role_id.reveal(), auth.secret_id.reveal()
    )["auth"]["client_token"]
    raw = requests.get(
        f"{planted.addr}/v1/samdops/data/ingest/source", headers={"X-Vault-Token": token}, timeout=5
    )
    assert raw.status_code == 403
    vault = VaultSecrets(planted.addr, auth)
    with pytest.raises(SecretsUnavailable) as info:
        vault.read("samdops/ingest/source")
    assert str(info.value) == (
        f"cannot read secret samdops/ingest/source from Vault at {planted.addr}: permission "
        "denied (policy for AppRole role 'samdops-train' does not allow it)"
    )


def test_the_steps_may_sign_audit_checkpoints_and_the_server_may_not(
    planted: VaultServer, approle_login: Callable[[str], AppRoleAuth]
) -> None:
    for step in ("ingest", "validate", "train", "evaluate", "register", "drift-monitor"):
        client = VaultSecrets(planted.addr, approle_login(step)).client()
        signed = client.secrets.transit.sign_data("samdops-audit", "aGVsbG8=")
        assert signed["data"]["signature"].startswith("vault:v1:"), step
    for role in ("serving", "pipeline-runner"):
        client = VaultSecrets(planted.addr, approle_login(role)).client()
        with pytest.raises(hvac.exceptions.Forbidden):
            client.secrets.transit.sign_data("samdops-audit", "aGVsbG8=")
    train = VaultSecrets(planted.addr, approle_login("train")).client()
    with pytest.raises(hvac.exceptions.Forbidden):  # verifying is register's (model records)
        train.secrets.transit.verify_signed_data(
            "samdops-audit", "aGVsbG8=", signature="vault:v1:x"
        )


def test_token_auth_and_missing_secret(planted: VaultServer) -> None:
    vault = VaultSecrets(planted.addr, TokenAuth(Secret(planted.root_token)))
    assert vault.read("samdops/s3")["access_key"].reveal() == "AK"
    with pytest.raises(SecretsUnavailable, match=r"samdops/nothing/here.*no such secret"):
        vault.read("samdops/nothing/here")


def test_expired_token_is_reported_without_the_token(planted: VaultServer) -> None:
    token = planted.client().auth.token.create(
        policies=["samdops-train"], ttl="1s", renewable=False
    )["auth"]["client_token"]
    in_use = VaultSecrets(planted.addr, TokenAuth(Secret(token)))
    assert in_use.read("samdops/train/db")["password"].reveal() == "train-pw"
    time.sleep(1.5)
    prefix = f"cannot read secret samdops/train/db from Vault at {planted.addr}: "
    with pytest.raises(SecretsUnavailable) as expired:
        in_use.read("samdops/train/db")
    # Our clock or the server's notices first; either way the message says the token expired.
    assert str(expired.value) in (
        prefix + "login with the given token failed: the token has expired; provide a new token",
        prefix + "the Vault token is invalid or has expired",
    )
    with pytest.raises(SecretsUnavailable) as fresh:
        VaultSecrets(planted.addr, TokenAuth(Secret(token))).read("samdops/train/db")
    assert str(fresh.value) == (
        prefix + "login with the given token failed: the token is invalid or has expired"
    )
    assert token not in str(expired.value) + str(fresh.value)


def test_token_is_renewed_before_it_expires(planted: VaultServer) -> None:
    token = planted.client().auth.token.create(
        policies=["samdops-train"], ttl="2s", explicit_max_ttl="60s", renewable=True
    )["auth"]["client_token"]
    vault = VaultSecrets(planted.addr, TokenAuth(Secret(token)), renew_below=60)
    for _ in range(3):  # 2.4 s in all: longer than the token's 2 s TTL without renewal
        assert vault.read("samdops/train/db")["password"].reveal() == "train-pw"
        time.sleep(0.8)
    assert vault.read("samdops/train/db")


def test_approle_is_logged_in_again_when_renewal_is_impossible(
    planted: VaultServer, approle_login: Callable[[str], AppRoleAuth]
) -> None:
    vault = VaultSecrets(planted.addr, approle_login("train"), renew_below=60)
    vault.read("samdops/train/db")
    planted.client().auth.token.revoke(vault._client.token)  # renewal will fail
    assert vault.read("samdops/train/db")["password"].reveal() == "train-pw"


def test_bad_approle_secret_id(
    planted: VaultServer, approle_login: Callable[[str], AppRoleAuth]
) -> None:
    good = approle_login("train")
    bad = AppRoleAuth(good.role_id, Secret("not-the-secret-id-1234"), role="samdops-train")
    with pytest.raises(SecretsUnavailable) as info:
        VaultSecrets(planted.addr, bad).read("samdops/s3")
    assert "login with AppRole role 'samdops-train' failed: invalid role or secret ID" in str(
        info.value
    )
    assert "not-the-secret-id-1234" not in str(info.value)
    assert good.role_id.reveal() not in str(info.value)


def test_kubernetes_auth_without_a_mounted_token(planted: VaultServer, tmp_path: Path) -> None:
    auth = KubernetesAuth("samdops-train", jwt_path=tmp_path / "absent-token")
    with pytest.raises(SecretsUnavailable, match="cannot read the service-account token"):
        VaultSecrets(planted.addr, auth).read("samdops/s3")


def test_kubernetes_auth_refused_names_the_role(planted: VaultServer, tmp_path: Path) -> None:
    from samdops.secrets.bootstrap import KubernetesAuthConfig, bootstrap

    # Kubernetes auth pointed at an API server that is not there: the review of the token fails.
    bootstrap(
        planted.client(),
        kubernetes=KubernetesAuthConfig("https://127.0.0.1:9", self_signed_ca_pem()),
    )
    jwt = tmp_path / "token"
    jwt.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl")
    with pytest.raises(SecretsUnavailable) as info:
        VaultSecrets(planted.addr, KubernetesAuth("samdops-train", jwt_path=jwt)).read("samdops/s3")
    assert "login with Kubernetes role 'samdops-train' failed" in str(info.value)
    assert "c2lnbmF0dXJl" not in str(info.value)


def test_vault_down(planted: VaultServer) -> None:
    addr = f"http://127.0.0.1:{free_port()}"
    token = planted.root_token
    with pytest.raises(SecretsUnavailable) as info:
        VaultSecrets(addr, TokenAuth(Secret(token))).read("samdops/s3")
    assert str(info.value) == (
        f"cannot read secret samdops/s3 from Vault at {addr}: Vault is unreachable "
        "(Connection refused) (gave up after 4 attempts)"
    )


def test_vault_sealed(start_vault: Callable[..., object]) -> None:
    with start_vault() as server:  # type: ignore[attr-defined]
        root = server.client()
        root.sys.enable_secrets_engine("kv", path="samdops", options={"version": "2"})
        vault = VaultSecrets(server.addr, TokenAuth(Secret(server.root_token)))
        with pytest.raises(SecretsUnavailable, match="no such secret"):
            vault.read("samdops/s3")
        root.sys.seal()
        with pytest.raises(SecretsUnavailable) as info:
            vault.read("samdops/s3")
        assert str(info.value) == (
            f"cannot read secret samdops/s3 from Vault at {server.addr}: Vault is sealed"
        )
        assert server.root_token not in repr(info.value)


def test_secrets_from_env_picks_approle(
    planted: VaultServer, approle_login: Callable[[str], AppRoleAuth]
) -> None:
    auth = approle_login("train")
    backend = secrets_from_env(
        {
            "VAULT_ADDR": planted.addr,
            "VAULT_ROLE_ID": auth.role_id.reveal(),
            "VAULT_SECRET_ID": auth.secret_id.reveal(),
            "SAMDOPS_VAULT_ROLE": "samdops-train",
        }
    )
    assert (
        repr(backend)
        == f"VaultSecrets(addr='{planted.addr}', auth=\"AppRole role 'samdops-train'\")"
    )
    assert backend.read("samdops/train/db")["password"].reveal() == "train-pw"
