"""``samdops submit``: upload a compiled pipeline and start one run of it on Kubeflow Pipelines."""

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
        "submit",
        help="upload a compiled pipeline and run it on Kubeflow Pipelines",
        description="Upload PIPELINE_YAML (a new pipeline version per content) and start a run "
        "of it in the experiment, under the given service account.",
    )
    add_target_arguments(parser)
    parser.add_argument("--run-name", default="", help="run name (default: <pipeline>-<UTC time>)")
    parser.set_defaults(func=submit_command)


def submit_command(args: argparse.Namespace) -> int:
    from samdops.cluster.kfp_client import Package, submit
    from samdops.launch.local_run import new_run_name

    package = Package.load(args.pipeline)
    arguments = run_arguments(package, args)
    run_name = args.run_name or new_run_name(package.name)
    target = target_from(args)
    submitter = record_submitter(args, package, arguments, run_name)  # before the run starts
    created = submit(package, arguments, target, run_name)
    print_created(created, args.host)
    if submitter:
        print(f"launched by {submitter}, run by service account {target.service_account}")
    return 0
