"""``samdops vault bootstrap``: configure a Vault for samdops (engines, policies, roles)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from samdops import settings
from samdops.errors import ConfigError


def register(subparsers: Any) -> None:
    vault = subparsers.add_parser("vault", help="set up Vault for samdops")
    commands = vault.add_subparsers(dest="vault_command", metavar="COMMAND", required=True)
    boot = commands.add_parser(
        "bootstrap",
        help="enable KV v2 and Transit, write the policies, create AppRole and Kubernetes roles",
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
    boot.set_defaults(func=run_bootstrap)


def run_bootstrap(args: argparse.Namespace) -> int:
    import hvac

    from samdops.secrets.bootstrap import KubernetesAuthConfig, bootstrap

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
    client = hvac.Client(url=addr, token=token, timeout=10)
    changes = bootstrap(
        client, policies_dir=args.policies, namespace=args.namespace, kubernetes=kubernetes
    )
    for line in changes:
        print(line)
    if not changes:
        print(f"Vault at {addr} is already set up for samdops; nothing changed")
    return 0
