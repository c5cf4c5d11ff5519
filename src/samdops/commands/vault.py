"""``samdops vault bootstrap``: configure a Vault for samdops (audit device, engines, policies,
roles).

Vault's file audit device writes to ``--audit-file``, a path on the Vault server (or ``stdout``).
For a Vault on this machine (a loopback address) it defaults to ``<samdops home>/vault/audit.log``;
for any other Vault it must be given: a file on the server's persistent audit volume (e.g.
``/vault/audit/samdops.log``), or ``stdout`` for the cluster's log collector.
"""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from samdops import settings
from samdops.errors import ConfigError


def register(subparsers: Any) -> None:
    vault = subparsers.add_parser("vault", help="set up Vault for samdops")
    commands = vault.add_subparsers(dest="vault_command", metavar="COMMAND", required=True)
    boot = commands.add_parser(
        "bootstrap",
        help="enable an audit device, KV v2 and Transit, write the policies, create AppRole and "
        "Kubernetes roles",
        description="Idempotent: a second run changes nothing. The admin token is read from "
        "$VAULT_TOKEN and is never printed.",
    )
    boot.add_argument("--addr", help="Vault address (default: $VAULT_ADDR)")
    boot.add_argument(
        "--namespace",
        default="samdops",
        help="Kubernetes namespace of the service accounts (default: %(default)s)",
    )
    boot.add_argument("--kubernetes-host", help="Kubernetes API URL for Vault's Kubernetes auth")
    boot.add_argument("--kubernetes-ca-cert", type=Path, help="PEM file of the Kubernetes API's CA")
    boot.add_argument("--policies", type=Path, help="directory of samdops-<role>.hcl files")
    boot.add_argument(
        "--audit-file",
        help="where Vault's file audit device writes, on the Vault server, or 'stdout' "
        "(default for a Vault on loopback: <samdops home>/vault/audit.log)",
    )
    boot.set_defaults(func=run_bootstrap)


def run_bootstrap(args: argparse.Namespace) -> int:
    import hvac

    from samdops.secrets.bootstrap import AuditDeviceConfig, KubernetesAuthConfig, bootstrap

    addr = args.addr or settings.vault_address() or ""
    token = settings.vault_token() or ""
    if not addr:
        raise ConfigError("no Vault address: pass --addr or set VAULT_ADDR")
    if not token:
        raise ConfigError("set VAULT_TOKEN to a token allowed to configure Vault")
    kubernetes = None
    if args.kubernetes_host:
        ca = None
        if args.kubernetes_ca_cert:
            try:
                ca = args.kubernetes_ca_cert.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"cannot read {args.kubernetes_ca_cert}: {exc.strerror}"
                ) from None
        kubernetes = KubernetesAuthConfig(args.kubernetes_host, ca)
    audit = AuditDeviceConfig(_audit_file(addr, args.audit_file))
    client = hvac.Client(url=addr, token=token, timeout=10)
    changes = bootstrap(
        client,
        policies_dir=args.policies,
        namespace=args.namespace,
        kubernetes=kubernetes,
        audit=audit,
    )
    for line in changes:
        print(line)
    if not changes:
        print(f"Vault at {addr} is already set up for samdops; nothing changed")
    return 0


_NOT_A_FILE = ("stdout", "discard")  # file_path values of Vault's file device that are not files


def _audit_file(addr: str, given: str | None) -> str:
    """``given``, else the default under the samdops home for a Vault on loopback."""
    local = _is_loopback(addr)
    if given:
        if given in _NOT_A_FILE or Path(given).is_absolute():
            return given
        if local:
            return str(Path(given).resolve())
        raise ConfigError(
            f"--audit-file {given} is relative; give an absolute path on the Vault server or stdout"
        )
    if not local:
        raise ConfigError(
            f"Vault at {addr} is not on this machine: pass --audit-file with a path on the Vault "
            "server's audit volume (e.g. /vault/audit/samdops.log) or --audit-file stdout"
        )
    directory = settings.samdops_home() / "vault"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(directory / "audit.log")


def _is_loopback(addr: str) -> bool:
    host = urlsplit(addr if "://" in addr else f"http://{addr}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
