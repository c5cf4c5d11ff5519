"""``samdops registry list|show``: the registered models."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from samdops.registry import LocalRegistry, RegistryRecord


def register(subparsers: Any) -> None:
    registry = subparsers.add_parser("registry", help="list and show registered models")
    commands = registry.add_subparsers(dest="registry_command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", help="one line per registered model version")
    listing.add_argument("--json", action="store_true", help="print the records as JSON")
    listing.add_argument("--home", type=Path, help="samdops home (default: $SAMDOPS_HOME)")
    listing.set_defaults(func=list_models)
    show = commands.add_parser("show", help="one record in full")
    show.add_argument("model", help="NAME@VERSION, NAME (latest version) or 'latest'")
    show.add_argument("--json", action="store_true", help="print the record as JSON")
    show.add_argument("--home", type=Path, help="samdops home (default: $SAMDOPS_HOME)")
    show.set_defaults(func=show_model)


def _summary(record: RegistryRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "version": record.version,
        "state": record.status,
        "model_sha256": record.model_sha256,
        "registered_at": record.document["registered_at"],
        "signatures": record.document.get("signatures", []),
    }


def list_models(args: argparse.Namespace) -> int:
    records = LocalRegistry(args.home).records()
    if args.json:
        print(json.dumps([_summary(r) for r in records], indent=2))
        return 0
    for r in records:
        auroc = r.document["metrics"]["auroc"]
        print(
            f"{r.id:<28} {r.status:<12} {r.document['registered_at']}  "
            f"AUROC {auroc['point']:.3f}  {r.model_sha256}"
        )
    if not records:
        print("no models registered yet; run `samdops run train`")
    return 0


def show_model(args: argparse.Namespace) -> int:
    record = LocalRegistry(args.home).get(args.model)
    if args.json:
        print(json.dumps({**_summary(record), "record": record.document}, indent=2))
    else:
        print(json.dumps(record.document, indent=2, sort_keys=True))
    return 0
