"""Secret values, the environment backend, backend selection and the Vault policy files."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from samdops.errors import ConfigError, SecretsUnavailable
from samdops.secrets import EnvSecrets, Secret, env_var_name, read_keys, secrets_from_env
from samdops.secrets.bootstrap import default_policies_dir, load_policies, role_names
from samdops.secrets.vault import AppRoleAuth, KubernetesAuth, TokenAuth, VaultSecrets

VALUE = "s3cr3t-value-never-shown"


def test_secret_never_shows_its_value() -> None:
    secret = Secret(VALUE, "samdops/s3#secret_key")
    for text in (
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        "{}".format(secret),  # noqa: UP032
        repr([secret]),
    ):
        assert VALUE not in text
    assert repr(secret) == "Secret(samdops/s3#secret_key=<redacted>)"
    assert secret.reveal() == VALUE
    assert secret == Secret(VALUE) and secret != Secret("other")
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        hash(secret)


def test_auth_reprs_hide_credentials(tmp_path: Path) -> None:
    for auth in (
        TokenAuth(Secret(VALUE)),
        AppRoleAuth(Secret("role-id-" + VALUE), Secret(VALUE), role="samdops-train"),
        KubernetesAuth("samdops-train", tmp_path / "jwt"),
    ):
        assert VALUE not in repr(auth)
    vault = VaultSecrets("http://127.0.0.1:8200/", TokenAuth(Secret(VALUE)))
    assert repr(vault) == "VaultSecrets(addr='http://127.0.0.1:8200', auth='the given token')"


def test_env_secrets_naming_convention() -> None:
    assert env_var_name("samdops/s3", "access_key") == "SAMDOPS_SECRET_SAMDOPS_S3__ACCESS_KEY"
    backend = EnvSecrets(
        {
            "SAMDOPS_SECRET_SAMDOPS_S3__ACCESS_KEY": "ak",
            "SAMDOPS_SECRET_SAMDOPS_S3__SECRET_KEY": VALUE,
            "SAMDOPS_SECRET_SAMDOPS_S3_OTHER__X": "not this path",
        }
    )
    values = read_keys(backend, "samdops/s3", "access_key", "secret_key")
    assert set(values) == {"access_key", "secret_key"}
    assert values["secret_key"].reveal() == VALUE
    with pytest.raises(SecretsUnavailable, match="has no key\\(s\\) session_token"):
        read_keys(backend, "samdops/s3", "session_token")
    with pytest.raises(SecretsUnavailable, match="SAMDOPS_SECRET_SAMDOPS_TRAIN_DB__<KEY>"):
        backend.read("samdops/train/db")


def test_secrets_from_env_choice(tmp_path: Path) -> None:
    assert isinstance(secrets_from_env({}), EnvSecrets)
    token = secrets_from_env({"VAULT_ADDR": "http://v:8200", "VAULT_TOKEN": VALUE})
    assert isinstance(token, VaultSecrets) and isinstance(token.auth, TokenAuth)
    secret_file = tmp_path / "secret-id"
    secret_file.write_text(VALUE + "\n")
    approle = secrets_from_env(
        {
            "VAULT_ADDR": "http://v:8200",
            "VAULT_ROLE_ID": "rid",
            "VAULT_SECRET_ID_FILE": str(secret_file),
        }
    )
    assert isinstance(approle, VaultSecrets) and isinstance(approle.auth, AppRoleAuth)
    assert approle.auth.secret_id.reveal() == VALUE
    k8s = secrets_from_env({"VAULT_ADDR": "http://v:8200", "SAMDOPS_VAULT_ROLE": "samdops-train"})
    assert isinstance(k8s, VaultSecrets) and isinstance(k8s.auth, KubernetesAuth)
    assert k8s.auth.jwt_path == Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    with pytest.raises(ConfigError, match="no Vault credentials"):
        secrets_from_env({"VAULT_ADDR": "http://v:8200"})
    with pytest.raises(ConfigError, match="SAMDOPS_VAULT_AUTH must be"):
        secrets_from_env({"VAULT_ADDR": "http://v:8200", "SAMDOPS_VAULT_AUTH": "ldap"})


def _paths(hcl: str) -> dict[str, str]:
    return dict(re.findall(r'path "([^"]+)" \{\s*capabilities = (\[[^\]]*\])', hcl))


def test_one_least_privilege_policy_per_role() -> None:
    policies = load_policies(default_policies_dir())
    roles = role_names(policies)
    assert sorted(roles) == [
        "drift-monitor",
        "evaluate",
        "ingest",
        "pipeline-runner",
        "register",
        "serving",
        "train",
        "validate",
    ]
    for role in roles:
        paths = _paths(policies[f"samdops-{role}"])
        assert f"samdops/data/{role}/*" in paths
        for path, capabilities in paths.items():
            assert capabilities in ('["read"]', '["update"]'), (role, path)
            assert "*" not in path.split("/")[0] and not path.startswith(("sys/", "auth/"))
            other_roles = [r for r in roles if r != role]
            assert not any(f"/{other}/" in path for other in other_roles), (role, path)
        transit = sorted(p for p in paths if p.startswith("transit/"))
        # every step signs the checkpoint over its own audit events; only register also
        # verifies (model records); the server and the pipeline runner only read the public key
        # or nothing
        expected = {
            "pipeline-runner": [],
            "serving": ["transit/keys/samdops-audit"],
            "register": [
                "transit/keys/samdops-audit",
                "transit/sign/samdops-audit",
                "transit/verify/samdops-audit",
            ],
        }.get(role, ["transit/keys/samdops-audit", "transit/sign/samdops-audit"])
        assert transit == expected, role
