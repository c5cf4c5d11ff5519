"""``samdops pccp register|show|check``: the Predetermined Change Control Plan."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from samdops.commands._auth import add_password_args, read_password
from samdops.commands._state import add_state_argument


def register(subparsers: Any) -> None:
    pccp = subparsers.add_parser("pccp", help="Predetermined Change Control Plans")
    commands = pccp.add_subparsers(dest="pccp_command", metavar="COMMAND", required=True)
    reg = commands.add_parser("register", help="register a plan YAML (validated) for signing")
    reg.add_argument("file", type=Path)
    add_password_args(reg)
    show = commands.add_parser("show", help="the plan in force, its state and signatures")
    show.add_argument("plan", help="plan id")
    show.add_argument("--json", action="store_true")
    check = commands.add_parser(
        "check",
        help="is a training config inside the plan? (scope check against the released model)",
    )
    check.add_argument("plan", help="plan id")
    check.add_argument("--config", type=Path, required=True, help="candidate training config")
    for parser, func in ((reg, register_command), (show, show_command), (check, check_command)):
        add_state_argument(parser)
        parser.set_defaults(func=func)


def register_command(args: argparse.Namespace) -> int:
    from samdops.governance.service import GovernedRegistry
    from samdops.pccp.plans import register_plan

    model = register_plan(
        GovernedRegistry(args.state or None), args.file, args.user, read_password(args)
    )
    print(
        f"registered {model.record.id} (state {model.state.value}); it is in force after "
        "review and approval signatures (`samdops sign`)"
    )
    return 0


def show_command(args: argparse.Namespace) -> int:
    from samdops.governance.service import GovernedRegistry
    from samdops.pccp.plans import plan_in_force

    plan, record = plan_in_force(GovernedRegistry(args.state or None), args.plan)
    if args.json:
        print(json.dumps({**record.as_dict(), "plan": plan.model_dump(mode="json")}, indent=2))
        return 0
    print(
        f"{record.record.id}: PCCP {plan.id} v{plan.version} for {plan.model}, "
        f"state {record.state.value}"
    )
    for signature in record.history.signatures:
        print(f"  signed: {signature.display()}")
    print("  modifications: " + ", ".join(m.type for m in plan.modifications))
    print(
        f"  fixed: features {', '.join(plan.fixed.features)}; family "
        f"{plan.fixed.model_family}; contract {plan.fixed.contract}"
    )
    for path, bound in plan.retraining.parameter_bounds.items():
        print(f"  may vary: {path} in [{bound.min:g}, {bound.max:g}]")
    for criterion in plan.performance.criteria:
        print(f"  criterion: {criterion.describe()}")
    rule = plan.performance.non_inferiority
    print(
        f"  non-inferiority: {rule.metric} not worse than released by more than "
        f"{rule.margin} ({rule.confidence:.0%} paired bootstrap)"
    )
    return 0


def check_command(args: argparse.Namespace) -> int:
    from samdops.config import load_config
    from samdops.governance.service import GovernedRegistry
    from samdops.pccp.gate import check_scope
    from samdops.pccp.plans import plan_in_force, released_model

    registry = GovernedRegistry(args.state or None)
    plan, _ = plan_in_force(registry, args.plan)
    _, released_config, _ = released_model(registry, plan.model)
    _, scope = check_scope(plan, released_config, load_config(args.config))
    print(
        f"{'inside' if scope.passed else 'OUTSIDE'} PCCP {plan.id} v{plan.version}: {scope.detail}"
    )
    return 0 if scope.passed else 1
