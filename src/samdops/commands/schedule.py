"""``samdops schedule``: a recurring run (6-field cron, one at a time, no catch-up) on KFP."""

from __future__ import annotations

import argparse
from typing import Any

from samdops.commands._kfp_args import (
    add_target_arguments,
    print_created,
    record_submitter,
    run_arguments,
    target_from,
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "schedule",
        help="schedule recurring runs of a compiled pipeline on Kubeflow Pipelines",
        description="Create a recurring run of PIPELINE_YAML with max concurrency 1 and no "
        "catch-up. --cron takes 6 fields, seconds first: '0 0 2 * * *' is 02:00 every day; a "
        "5-field expression is refused because KFP would read it shifted by one field.",
    )
    add_target_arguments(parser)
    parser.add_argument("--cron", required=True, help="6-field cron, seconds first")
    parser.add_argument(
        "--name", default="", help="recurring run name (default: <pipeline>-schedule)"
    )
    parser.add_argument(
        "--replace", action="store_true", help="delete a recurring run of the same name first"
    )
    parser.set_defaults(func=schedule_command)


def schedule_command(args: argparse.Namespace) -> int:
    from samdops.cluster.kfp_client import Package, schedule, validate_cron

    cron = validate_cron(args.cron)  # before reading anything else: the trap is the likely error
    package = Package.load(args.pipeline)
    arguments = run_arguments(package, args)
    name = args.name or f"{package.name}-schedule"
    target = target_from(args)
    submitter = record_submitter(args, package, arguments, name)  # each run is on their behalf
    created = schedule(package, arguments, target, name, cron, replace=args.replace)
    print_created(created, args.host)
    if submitter:
        print(f"scheduled by {submitter}, run by service account {target.service_account}")
    print(f"schedule: cron '{cron}' (seconds first), max concurrency 1, no catch-up")
    return 0
