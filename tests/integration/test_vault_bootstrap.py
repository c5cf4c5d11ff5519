"""`samdops vault bootstrap` against a fresh OpenBao server: what it configures, and idempotence."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from samdops.cli import main
from samdops.errors import SecretsUnavailable
from samdops.secrets.bootstrap import (
    KubernetesAuthConfig,
    bootstrap,
    default_policies_dir,
    load_policies,
    role_names,
)
from tests.integration.conftest import VaultServer, self_signed_ca_pem
from tests.integration.vault_audit import configured_vault

ROLES = sorted(role_names(load_policies(default_policies_dir())))  # test_secrets checks them
Start = Callable[[], contextlib.AbstractContextManager[VaultServer]]


def test_bootstrap_configures_everything_once(start_vault: Start) -> None:
    ca = self_signed_ca_pem()
    k8s = KubernetesAuthConfig("https://kubernetes.default.svc", ca)
    with start_vault() as server:
        client = server.client()
        first = bootstrap(client, namespace="clinical", kubernetes=k8s)
        assert "enabled kv engine at samdops/ (version 2)" in first
        assert "created Transit key samdops-audit (ed25519, not exportable)" in first
        assert "configured Kubernetes auth for https://kubernetes.default.svc" in first
        assert len([c for c in first if c.startswith("created policy")]) == len(ROLES)
        assert bootstrap(client, namespace="clinical", kubernetes=k8s) == []  # idempotent

        mounts = client.sys.list_mounted_secrets_engines()["data"]
        assert mounts["samdops/"]["type"] == "kv"
        assert mounts["samdops/"]["options"]["version"] == "2"
        key = client.secrets.transit.read_key("samdops-audit")["data"]
        assert key["type"] == "ed25519"
        assert key["exportable"] is False
        policies = load_policies(default_policies_dir())
        for name, text in policies.items():
            assert client.sys.read_acl_policy(name)["data"]["policy"].strip() == text.strip()
        for role in ROLES:
            approle = client.read(f"auth/approle/role/samdops-{role}")["data"]
            assert approle["token_policies"] == [f"samdops-{role}"]
            k8s_role = client.read(f"auth/kubernetes/role/samdops-{role}")["data"]
            assert k8s_role["bound_service_account_names"] == [f"samdops-{role}"]
            assert k8s_role["bound_service_account_namespaces"] == ["clinical"]
            assert k8s_role["token_policies"] == [f"samdops-{role}"]
        config = client.read("auth/kubernetes/config")["data"]
        assert config["kubernetes_host"] == "https://kubernetes.default.svc"


def test_bootstrap_updates_a_changed_policy(start_vault: Start, tmp_path: Path) -> None:
    policies = tmp_path / "vault"
    shutil.copytree(default_policies_dir(), policies)
    with start_vault() as server:
        client = server.client()
        bootstrap(client, policies_dir=policies)
        train = policies / "samdops-train.hcl"
        train.write_text(
            train.read_text()
            + '\npath "samdops/data/train-extra" {\n  capabilities = ["read"]\n}\n'
        )
        assert bootstrap(client, policies_dir=policies) == ["updated policy samdops-train"]


def test_cli_bootstrap_never_prints_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAMDOPS_HOME", str(tmp_path / "home"))  # Vault's audit log goes there
    with configured_vault(tmp_path / "bao") as server:  # takes audit devices through the API
        monkeypatch.setenv("VAULT_TOKEN", server.root_token)
        assert main(["vault", "bootstrap", "--addr", server.addr, "--namespace", "samdops"]) == 0
        first = capsys.readouterr()
        assert "created policy samdops-train" in first.out
        assert main(["vault", "bootstrap", "--addr", server.addr]) == 0
        second = capsys.readouterr()
        assert (
            second.out == f"Vault at {server.addr} is already set up for samdops; nothing changed\n"
        )
        for output in (first, second):
            assert server.root_token not in output.out + output.err


def test_bootstrap_with_a_weak_token_fails_clearly(vault_bootstrapped: VaultServer) -> None:
    root = vault_bootstrapped.client()
    weak = root.auth.token.create(policies=["samdops-train"], ttl="60s")["auth"]["client_token"]
    with pytest.raises(
        SecretsUnavailable, match="permission denied; the token needs rights"
    ) as info:
        bootstrap(vault_bootstrapped.client(token=weak))
    assert weak not in str(info.value)


def test_cli_without_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    assert main(["vault", "bootstrap", "--addr", "http://127.0.0.1:9"]) == 2
    assert "set VAULT_TOKEN" in capsys.readouterr().err
