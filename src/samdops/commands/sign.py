"""``samdops sign`` and ``samdops promote``: e-signatures and lifecycle changes."""

from __future__ import annotations

import argparse
from typing import Any

from samdops.commands._auth import add_password_args, read_password
from samdops.commands._state import add_state_argument
from samdops.governance.lifecycle import State
from samdops.governance.service import GovernedModel, GovernedRegistry
from samdops.governance.signatures import Meaning
from samdops.governance.text import escaped


def register(subparsers: Any) -> None:
    sign = subparsers.add_parser(
        "sign",
        help="sign a model version (re-authenticates)",
        description="Sign MODEL (name@version, name or latest) with a meaning from the fixed "
        "list. Review moves a validated model to reviewed, approval a reviewed one to approved.",
    )
    sign.add_argument("model")
    sign.add_argument("--meaning", required=True, choices=[m.value for m in Meaning])
    add_password_args(sign)
    add_state_argument(sign)
    sign.set_defaults(func=sign_command)
    promote = subparsers.add_parser(
        "promote",
        help="release, retire or reject a model version (re-authenticates)",
    )
    promote.add_argument("model")
    promote.add_argument("--to", required=True, choices=["released", "retired", "rejected"])
    promote.add_argument("--reason", help="required to retire or reject")
    add_password_args(promote)
    add_state_argument(promote)
    promote.set_defaults(func=promote_command)


def print_model(model: GovernedModel) -> None:
    data = model.as_dict()
    print(f"{escaped(data['id'])}  state {data['state']}  model {escaped(data['model_sha256'])}")
    for signature in data["signatures"]:
        print(f"  signed: {signature['display']}")


def sign_command(args: argparse.Namespace) -> int:
    registry = GovernedRegistry(args.state or None)
    password = read_password(args)
    print_model(registry.sign(args.model, Meaning(args.meaning), args.user, password))
    return 0


def promote_command(args: argparse.Namespace) -> int:
    registry = GovernedRegistry(args.state or None)
    password = read_password(args)
    model = registry.transition(args.model, State(args.to), args.user, password, reason=args.reason)
    print_model(model)
    return 0
