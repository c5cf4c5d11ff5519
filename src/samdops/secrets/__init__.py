"""Credentials at run time: :class:`SecretsBackend` with Vault and environment implementations.

A component reads the credentials it needs when it runs, from the backend that
:func:`secrets_from_env` picks; they never travel as pipeline parameters. Reads from Vault are
reported (path, component, Vault request id; never a value) to the :func:`recording` blocks open
around them, so that the caller that holds the audit log can record them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from samdops import settings
from samdops.errors import ConfigError
from samdops.secrets.base import Secret, SecretsBackend, read_keys
from samdops.secrets.env import EnvSecrets, env_var_name
from samdops.secrets.reads import ReadJournal, SecretRead, SecretValues, recording


def secrets_from_env(environ: Mapping[str, str] | None = None) -> SecretsBackend:
    """The secrets backend the environment asks for.

    Without ``VAULT_ADDR``: :class:`EnvSecrets` (the embedded default). With ``VAULT_ADDR``: Vault,
    authenticated by ``SAMDOPS_VAULT_AUTH`` (``token``, ``approle`` or ``kubernetes``), or when it
    is unset by the first of these that is configured:

    - ``token``: ``VAULT_TOKEN``;
    - ``approle``: ``VAULT_ROLE_ID`` and ``VAULT_SECRET_ID`` (or ``VAULT_SECRET_ID_FILE``), with
      ``SAMDOPS_VAULT_ROLE`` naming the role in messages and ``VAULT_APPROLE_MOUNT`` (``approle``);
    - ``kubernetes``: ``SAMDOPS_VAULT_ROLE`` (the Vault role), the service-account token at
      ``SAMDOPS_VAULT_K8S_JWT`` (default: the pod's mounted token), ``VAULT_K8S_MOUNT``
      (``kubernetes``).

    ``VAULT_NAMESPACE`` and ``VAULT_CACERT`` are honoured.
    """
    env = settings.environ() if environ is None else environ
    addr = env.get("VAULT_ADDR", "").strip()
    if not addr:
        return EnvSecrets(environ)
    from samdops.secrets.vault import (
        DEFAULT_JWT_PATH,
        AppRoleAuth,
        KubernetesAuth,
        TokenAuth,
        VaultAuth,
        VaultSecrets,
    )

    method = env.get("SAMDOPS_VAULT_AUTH", "").strip().lower()
    if not method:
        if env.get("VAULT_TOKEN"):
            method = "token"
        elif env.get("VAULT_ROLE_ID"):
            method = "approle"
        elif env.get("SAMDOPS_VAULT_ROLE"):
            method = "kubernetes"
        else:
            raise ConfigError(
                "VAULT_ADDR is set but no Vault credentials are: set VAULT_TOKEN, or "
                "VAULT_ROLE_ID and VAULT_SECRET_ID (AppRole), or SAMDOPS_VAULT_ROLE (Kubernetes)"
            )
    role = env.get("SAMDOPS_VAULT_ROLE", "")
    auth: VaultAuth
    if method == "token":
        auth = TokenAuth(Secret(_required(env, "VAULT_TOKEN", method), "VAULT_TOKEN"))
    elif method == "approle":
        secret_id = env.get("VAULT_SECRET_ID") or _read_file(env, "VAULT_SECRET_ID_FILE")
        auth = AppRoleAuth(
            role_id=Secret(_required(env, "VAULT_ROLE_ID", method), "VAULT_ROLE_ID"),
            secret_id=Secret(secret_id, "VAULT_SECRET_ID"),
            role=role,
            mount=env.get("VAULT_APPROLE_MOUNT", "approle"),
        )
    elif method == "kubernetes":
        auth = KubernetesAuth(
            role=_required(env, "SAMDOPS_VAULT_ROLE", method),
            jwt_path=Path(env.get("SAMDOPS_VAULT_K8S_JWT") or DEFAULT_JWT_PATH),
            mount=env.get("VAULT_K8S_MOUNT", "kubernetes"),
        )
    else:
        raise ConfigError(
            f"SAMDOPS_VAULT_AUTH must be token, approle or kubernetes; got {method!r}"
        )
    return VaultSecrets(
        addr,
        auth,
        namespace=env.get("VAULT_NAMESPACE") or None,
        verify=env.get("VAULT_CACERT") or True,
    )


def _required(env: Mapping[str, str], name: str, method: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"Vault {method} auth needs {name} to be set")
    return value


def _read_file(env: Mapping[str, str], name: str) -> str:
    path = env.get(name, "").strip()
    if not path:
        raise ConfigError("Vault approle auth needs VAULT_SECRET_ID or VAULT_SECRET_ID_FILE")
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read {name} {path}: {exc.strerror}") from None


__all__ = [
    "EnvSecrets",
    "ReadJournal",
    "Secret",
    "SecretRead",
    "SecretValues",
    "SecretsBackend",
    "env_var_name",
    "read_keys",
    "recording",
    "secrets_from_env",
]
