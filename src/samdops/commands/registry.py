"""``samdops registry list|show``: the registered models, read by a signed-in user (or, while the
state location has no users, the OS account); each query is an audit event."""

from __future__ import annotations

import argparse
import json
from typing import Any

from samdops.commands._auth import add_reader_args, reader_from
from samdops.commands._state import add_state_argument
from samdops.governance.service import GovernedRegistry
from samdops.governance.text import escaped


def register(subparsers: Any) -> None:
    registry = subparsers.add_parser("registry", help="list and show registered models")
    commands = registry.add_subparsers(dest="registry_command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", help="one line per registered model version")
    listing.add_argument("--json", action="store_true", help="print the records as JSON")
    add_state_argument(listing)
    add_reader_args(listing)
    listing.set_defaults(func=list_models)
    show = commands.add_parser("show", help="one record in full")
    show.add_argument("model", help="NAME@VERSION, NAME (latest version) or 'latest'")
    show.add_argument("--json", action="store_true", help="print the record as JSON")
    add_state_argument(show)
    add_reader_args(show)
    show.set_defaults(func=show_model)


def list_models(args: argparse.Namespace) -> int:
    registry = GovernedRegistry(args.state or None)
    source = "samdops registry list"
    models = registry.query_models(reader_from(args, registry, source=source), source=source)
    if args.json:
        print(json.dumps([m.as_dict() for m in models], indent=2))
        return 0
    for m in models:
        auroc = m.record.document.get("metrics", {}).get("auroc", {}).get("point")
        shown = "     -" if auroc is None else f"{auroc:.3f}"
        print(
            f"{escaped(m.record.id):<28} {m.state.value:<10} "
            f"{escaped(str(m.record.document['registered_at']))}  "
            f"AUROC {shown}  {escaped(m.record.model_sha256)}"
        )
        for signature in m.history.signatures:
            print(f"    signed: {signature.display()}")
    if not models:
        print("no models registered yet; run `samdops run train`")
    return 0


def show_model(args: argparse.Namespace) -> int:
    registry = GovernedRegistry(args.state or None)
    source = "samdops registry show"
    model = registry.show(reader_from(args, registry, source=source), args.model, source=source)
    if args.json:
        print(json.dumps({**model.as_dict(), "record": model.record.document}, indent=2))
    else:
        print(json.dumps(model.record.document, indent=2, sort_keys=True))
        print(f"state: {model.state.value}")
        for signature in model.history.signatures:
            print(f"signed: {signature.display()}")
    return 0
