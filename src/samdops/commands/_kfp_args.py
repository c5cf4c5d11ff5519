"""Arguments shared by ``samdops submit`` and ``samdops schedule``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from samdops import settings
from samdops.cluster.kube import RUN_SERVICE_ACCOUNT
from samdops.commands._auth import add_launcher_args, launcher_from
from samdops.settings import KFP_HOST_ENV as HOST_ENV


def add_target_arguments(parser: Any) -> None:
    parser.add_argument("pipeline", type=Path, metavar="PIPELINE_YAML", help="compiled pipeline")
    parser.add_argument(
        "--host",
        default=settings.kfp_host("http://localhost:8080"),
        help=f"KFP API or UI URL (default: ${HOST_ENV}, else http://localhost:8080, the "
        "port-forwarded ml-pipeline-ui)",
    )
    parser.add_argument("--experiment", default="samdops", help="experiment (default: samdops)")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a pipeline parameter; KEY=@FILE reads the value from FILE (repeatable)",
    )
    parser.add_argument(
        "--service-account",
        default=RUN_SERVICE_ACCOUNT,
        help=f"Kubernetes service account of the run (default: {RUN_SERVICE_ACCOUNT})",
    )
    parser.add_argument(
        "--pipeline-root", default="", help="override the compiled s3:// pipeline root"
    )
    parser.add_argument("--namespace", default="", help="profile namespace (multi-user KFP only)")
    parser.add_argument(
        "--config",
        type=Path,
        help="training config YAML for the pipeline's `config` parameter, validated and sent as "
        "canonical JSON (default: the built-in config, as `samdops run train`)",
    )
    add_launcher_args(parser)  # who submits: recorded with the run's `state` as its launcher


def run_arguments(package: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The run's arguments: ``--param`` pairs, and ``config`` from ``--config`` unless given."""
    from samdops.errors import ConfigError

    pairs = list(args.param)
    given = any(pair.startswith("config=") for pair in pairs)
    if given and args.config is not None:
        raise ConfigError(
            "give the config either as --config FILE or as --param config=..., not both"
        )
    if "config" in package.parameters and not given:
        from samdops.config import default_config_path, load_config

        pairs.append(f"config={load_config(args.config or default_config_path()).to_json()}")
    arguments: dict[str, Any] = package.arguments(pairs)
    return arguments


def record_submitter(
    args: argparse.Namespace, package: Any, arguments: dict[str, Any], run: str
) -> str | None:
    """With ``--user``: sign the person in against the users at the run's state location and
    record them as who launched run ``run`` (bound through its ``run`` parameter), so the run is
    trained by the service account on their behalf. Returns their id; None without ``--user``
    (the service account alone)."""
    from samdops.errors import ConfigError
    from samdops.governance.launch import record_launch
    from samdops.governance.service import GovernedRegistry

    if not args.user:
        return None
    if "run" not in package.parameters:
        raise ConfigError(f"{package.name} has no `run` parameter to bind its launcher to")
    run = str(arguments.setdefault("run", run))
    location = settings.state_location(str(arguments.get("state") or "") or None)
    registers = package.name != "samdops-monitoring" or bool(arguments.get("retrain_plan_id"))
    launcher = launcher_from(args, location, registers=registers)
    if launcher is None:  # not reached: --user was given
        return None
    record_launch(GovernedRegistry(location).audit, run, launcher, pipeline=package.name)
    return launcher.id


def target_from(args: argparse.Namespace) -> Any:
    from samdops.cluster.kfp_client import RunTarget
    from samdops.errors import ConfigError

    if args.pipeline_root and not args.pipeline_root.startswith("s3://"):
        raise ConfigError(f"--pipeline-root must be an s3:// URI; got {args.pipeline_root!r}")

    return RunTarget(
        host=args.host,
        experiment=args.experiment,
        service_account=args.service_account,
        pipeline_root=args.pipeline_root,
        namespace=args.namespace,
    )


def print_created(created: Any, host: str) -> None:
    from samdops.cluster.kfp_client import safe_host

    version = created.version
    action = "uploaded" if version.uploaded else "reused"
    print(f"pipeline version {version.version_name} ({action}, id {version.version_id})")
    print(f"created {created.kind} {created.name} (id {created.id}) on {safe_host(host)}")
