"""Configure a Vault (or OpenBao) for samdops, idempotently.

:func:`bootstrap` makes sure that:

0. when asked, a file audit device ``samdops-file/`` writes Vault's own audit log (first, so that
   everything after it is on that log): every request, its ``request.id`` and path in clear and
   the values HMAC'd, which a samdops ``secret_read`` event names by its ``vault_request_id``;
1. a KV v2 engine is mounted at ``samdops/``;
2. a Transit engine is mounted at ``transit/``, with the non-exportable ed25519 key
   ``samdops-audit``;
3. every policy file ``manifests/vault/samdops-<role>.hcl`` is written as policy
   ``samdops-<role>``;
4. AppRole (local use) and Kubernetes auth (cluster) are enabled, with a role ``samdops-<role>``
   per policy; the Kubernetes role binds the service account ``samdops-<role>`` in ``namespace``;
5. the Kubernetes auth method is configured when a Kubernetes API address is given.

It writes only what differs and returns one line per change, so a second run returns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac.exceptions
import requests

from samdops import settings
from samdops.errors import ConfigError, SecretsUnavailable

AUDIT_DEVICE = "samdops-file"
KV_MOUNT = "samdops"
TRANSIT_MOUNT = "transit"
AUDIT_KEY = "samdops-audit"
APPROLE_MOUNT = "approle"
KUBERNETES_MOUNT = "kubernetes"
POLICY_PREFIX = "samdops-"
TOKEN_TTL = 3600
TOKEN_MAX_TTL = 4 * 3600
SECRET_ID_TTL = 24 * 3600


@dataclass(frozen=True)
class KubernetesAuthConfig:
    """How Vault reaches the Kubernetes API to review service-account tokens.

    Without ``ca_cert`` Vault uses its own pod's CA and token (Vault running in the cluster).
    """

    host: str
    ca_cert: str | None = None


@dataclass(frozen=True)
class AuditDeviceConfig:
    """Vault's file audit device: ``file_path`` is on the Vault server (or ``stdout``)."""

    file_path: str
    path: str = AUDIT_DEVICE


def default_policies_dir() -> Path:
    """``$SAMDOPS_VAULT_POLICIES``, else ``manifests/vault`` of the source tree or working dir."""
    override = settings.vault_policies_dir()
    if override:
        return override
    here = Path(__file__).resolve()
    for base in (*here.parents, Path.cwd()):
        candidate = base / "manifests" / "vault"
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        "cannot find the Vault policies (manifests/vault/*.hcl); run from the repository or set "
        "SAMDOPS_VAULT_POLICIES"
    )


def load_policies(directory: Path) -> dict[str, str]:
    """Policy name -> HCL text for every ``samdops-<role>.hcl`` in ``directory``."""
    files = sorted(directory.glob(f"{POLICY_PREFIX}*.hcl"))
    if not files:
        raise ConfigError(f"no {POLICY_PREFIX}<role>.hcl policy files in {directory}")
    return {f.stem: f.read_text(encoding="utf-8") for f in files}


def role_names(policies: dict[str, str]) -> list[str]:
    """The component roles (``train``, ...) that the policies define."""
    return [name[len(POLICY_PREFIX) :] for name in policies]


def bootstrap(
    client: Any,
    *,
    policies_dir: Path | None = None,
    namespace: str = "samdops",
    kubernetes: KubernetesAuthConfig | None = None,
    audit: AuditDeviceConfig | None = None,
) -> list[str]:
    """Configure the Vault behind ``client`` (an ``hvac.Client`` with an admin token).

    Returns the changes made, one line each (empty when everything was already in place).
    Raises :class:`SecretsUnavailable` when Vault cannot be reached or refuses a change.
    """
    policies = load_policies(policies_dir or default_policies_dir())
    changes: list[str] = []
    try:
        if audit is not None:
            _ensure_audit_device(client, audit, changes)
        _ensure_mount(client, KV_MOUNT, "kv", {"version": "2"}, changes)
        _ensure_mount(client, TRANSIT_MOUNT, "transit", None, changes)
        _ensure_transit_key(client, changes)
        for name, text in policies.items():
            _ensure_policy(client, name, text, changes)
        _ensure_auth(client, APPROLE_MOUNT, "approle", changes)
        _ensure_auth(client, KUBERNETES_MOUNT, "kubernetes", changes)
        if kubernetes is not None:
            _ensure_kubernetes_config(client, kubernetes, changes)
        for role in role_names(policies):
            policy = POLICY_PREFIX + role
            _ensure_role(
                client,
                f"auth/{APPROLE_MOUNT}/role/{policy}",
                {
                    "token_policies": [policy],
                    "token_ttl": TOKEN_TTL,
                    "token_max_ttl": TOKEN_MAX_TTL,
                    "secret_id_ttl": SECRET_ID_TTL,
                    "bind_secret_id": True,
                },
                f"AppRole role {policy}",
                changes,
            )
            _ensure_role(
                client,
                f"auth/{KUBERNETES_MOUNT}/role/{policy}",
                {
                    "bound_service_account_names": [f"samdops-{role}"],
                    "bound_service_account_namespaces": [namespace],
                    "token_policies": [policy],
                    "token_ttl": TOKEN_TTL,
                    "token_max_ttl": TOKEN_MAX_TTL,
                },
                f"Kubernetes role {policy} (service account {namespace}/samdops-{role})",
                changes,
            )
    except hvac.exceptions.Forbidden:
        raise SecretsUnavailable(
            f"cannot bootstrap Vault at {client.url}: permission denied; the token needs rights "
            "on sys/mounts, sys/auth, sys/policies/acl, auth/* and transit/keys"
        ) from None
    except hvac.exceptions.VaultDown:
        raise SecretsUnavailable(f"cannot bootstrap Vault at {client.url}: it is sealed") from None
    except requests.exceptions.RequestException as exc:
        raise SecretsUnavailable(
            f"cannot bootstrap Vault at {client.url}: unreachable ({type(exc).__name__})"
        ) from None
    except hvac.exceptions.VaultError as exc:
        raise SecretsUnavailable(
            f"cannot bootstrap Vault at {client.url}: {type(exc).__name__}: {_errors(exc)}"
        ) from None
    return changes


def _ensure_audit_device(client: Any, audit: AuditDeviceConfig, changes: list[str]) -> None:
    where = f"the Vault audit device {audit.path}/ at {client.url}"
    denied = (
        f"cannot enable {where}: permission denied; the token needs sudo on sys/audit and "
        f"sys/audit/{audit.path}"
    )
    try:
        devices = client.sys.list_enabled_audit_devices()["data"]
    except hvac.exceptions.Forbidden:
        raise SecretsUnavailable(denied) from None
    for device in devices.values():
        options = device.get("options") or {}
        if device.get("type") == "file" and options.get("file_path") == audit.file_path:
            return  # ours, or the same device declared in the server's configuration
    current = devices.get(f"{audit.path}/")
    if current is not None:
        now = (current.get("options") or {}).get("file_path") or current.get("type")
        raise ConfigError(
            f"{where} already writes to {now}, not {audit.file_path}: pass --audit-file {now} "
            f"to keep it, or disable it first (vault audit disable {audit.path})"
        )
    try:
        client.sys.enable_audit_device(
            "file", path=audit.path, options={"file_path": audit.file_path}
        )
    except hvac.exceptions.Forbidden:
        raise SecretsUnavailable(denied) from None
    except hvac.exceptions.InvalidRequest as exc:
        text = _errors(exc)
        if "declarative" in text or "via API" in text:
            raise ConfigError(
                f"cannot enable {where}: the server takes audit devices only from its "
                f'configuration file; declare audit "file" "{audit.path}" {{ options {{ '
                f'file_path = "{audit.file_path}" }} }} there and restart it'
            ) from None
        raise ConfigError(f"cannot enable {where} writing to {audit.file_path}: {text}") from None
    changes.append(f"enabled file audit device at {audit.path}/ writing to {audit.file_path}")


def _ensure_mount(
    client: Any, path: str, kind: str, options: dict[str, str] | None, changes: list[str]
) -> None:
    mounts = client.sys.list_mounted_secrets_engines()["data"]
    current = mounts.get(f"{path}/")
    if current is None:
        client.sys.enable_secrets_engine(kind, path=path, options=options)
        changes.append(f"enabled {kind} engine at {path}/" + (" (version 2)" if options else ""))
        return
    version = (current.get("options") or {}).get("version")
    if current["type"] != kind or (options and version != options.get("version")):
        raise ConfigError(
            f"{path}/ is already mounted as {current['type']} (options {current.get('options')}); "
            f"samdops needs {kind} {options or ''} there: move that engine or mount it elsewhere"
        )


def _ensure_transit_key(client: Any, changes: list[str]) -> None:
    key = client.read(f"{TRANSIT_MOUNT}/keys/{AUDIT_KEY}")
    if key is None:
        client.write_data(
            f"{TRANSIT_MOUNT}/keys/{AUDIT_KEY}", data={"type": "ed25519", "exportable": False}
        )
        changes.append(f"created Transit key {AUDIT_KEY} (ed25519, not exportable)")
        return
    data = key["data"]
    if data.get("type") != "ed25519" or data.get("exportable"):
        raise ConfigError(
            f"Transit key {AUDIT_KEY} exists as type {data.get('type')}, exportable="
            f"{data.get('exportable')}; samdops needs a non-exportable ed25519 key"
        )


def _ensure_policy(client: Any, name: str, text: str, changes: list[str]) -> None:
    try:
        current = client.sys.read_acl_policy(name)["data"]["policy"]
    except hvac.exceptions.InvalidPath:
        current = None
    if current is not None and current.strip() == text.strip():
        return
    client.sys.create_or_update_acl_policy(name, text)
    changes.append(f"{'created' if current is None else 'updated'} policy {name}")


def _ensure_auth(client: Any, path: str, kind: str, changes: list[str]) -> None:
    methods = client.sys.list_auth_methods()["data"]
    current = methods.get(f"{path}/")
    if current is None:
        client.sys.enable_auth_method(kind, path=path)
        changes.append(f"enabled {kind} auth at auth/{path}/")
    elif current["type"] != kind:
        raise ConfigError(f"auth/{path}/ is already a {current['type']} auth method, not {kind}")


def _ensure_kubernetes_config(
    client: Any, config: KubernetesAuthConfig, changes: list[str]
) -> None:
    current = client.read(f"auth/{KUBERNETES_MOUNT}/config")
    data = (current or {}).get("data") or {}
    want_ca = (config.ca_cert or "").strip()
    if (
        data.get("kubernetes_host") == config.host
        and (data.get("kubernetes_ca_cert") or "").strip() == want_ca
    ):
        return
    body: dict[str, Any] = {"kubernetes_host": config.host}
    if config.ca_cert:
        body.update(kubernetes_ca_cert=config.ca_cert, disable_local_ca_jwt=True)
    try:
        client.write_data(f"auth/{KUBERNETES_MOUNT}/config", data=body)
    except hvac.exceptions.InvalidRequest as exc:
        raise ConfigError(
            f"Vault refused the Kubernetes auth configuration: {_errors(exc)}; when Vault runs "
            "outside the cluster, pass the API server's CA (--kubernetes-ca-cert)"
        ) from None
    changes.append(f"configured Kubernetes auth for {config.host}")


def _ensure_role(
    client: Any, path: str, desired: dict[str, Any], label: str, changes: list[str]
) -> None:
    current = client.read(path)
    data = (current or {}).get("data") or {}
    if current is not None and all(data.get(k) == v for k, v in desired.items()):
        return
    client.write_data(path, data=desired)
    changes.append(f"{'created' if current is None else 'updated'} {label}")


def _errors(exc: hvac.exceptions.VaultError) -> str:
    errors = exc.errors
    return "; ".join(map(str, errors)) if isinstance(errors, list | tuple) else str(errors)
