"""``samdops run train | retrain | monitor``: the pipelines through kfp.local, each step a
subprocess (the embedded default) or a container of the component image (``--runner
container``), the records at the state location."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from samdops import settings
from samdops.commands._auth import add_launcher_args, launcher_from
from samdops.commands.run_monitor import add_monitor_parser
from samdops.config import load_config, resolve_config_path
from samdops.settings import samdops_home
from samdops.summary import metrics_table


def register(subparsers: Any) -> None:
    run = subparsers.add_parser("run", help="run a pipeline locally through kfp.local")
    pipelines = run.add_subparsers(dest="pipeline", metavar="PIPELINE", required=True)
    train = pipelines.add_parser(
        "train",
        help="ingest, validate, train, evaluate and register a model",
        description="Run the training pipeline through kfp.local and register the model "
        "in the local registry ($SAMDOPS_HOME, else ./.samdops).",
    )
    retrain = pipelines.add_parser(
        "retrain",
        help="retrain on new data and decide under a PCCP (candidate, rejected, outside-plan)",
        description="Run the retraining pipeline: the candidate is compared with the released "
        "model and checked against the PCCP in force; it is never released by the run.",
    )
    retrain.add_argument("--plan", required=True, help="id of the PCCP in force")
    add_monitor_parser(pipelines, _add_common)
    for parser in (train, retrain):
        parser.add_argument(
            "--config",
            type=Path,
            help="training config YAML, or a packaged config's name: pima (default), sepsis",
        )
        parser.add_argument("--data", type=Path, help="CSV or Parquet file (default: the config's)")
        parser.add_argument(
            "--data-sha256",
            help="refuse the data unless it has this sha256 (default: the config's digest when "
            "--data is not given)",
        )
        _add_common(parser)
        parser.set_defaults(func=run_train)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--home", type=Path, help="samdops home, for the run's log (default: $SAMDOPS_HOME)"
    )
    parser.add_argument(
        "--state",
        default="",
        metavar="LOC",
        help="state location: a directory or s3://BUCKET/PREFIX (endpoint from "
        "$SAMDOPS_S3_ENDPOINT, credentials from Vault); default: $SAMDOPS_STATE, else the home",
    )
    parser.add_argument(
        "--runner",
        choices=["subprocess", "container"],
        default="subprocess",
        help="each step a subprocess (default) or a container of the component image (needs "
        "DOCKER_HOST, `make images` and an s3:// state location), as in the cluster",
    )
    add_launcher_args(parser)


def _line(text: str) -> None:
    print(text, flush=True)


def run_train(args: argparse.Namespace) -> int:
    from samdops.launch.local_run import run_training

    config_path = resolve_config_path(args.config)
    config = load_config(config_path)
    if args.data is not None:
        data, digest = args.data, args.data_sha256
    else:
        data, digest = Path(config.data.path), args.data_sha256 or config.data.sha256
    home = samdops_home(args.home)
    location = settings.state_location(args.state or None, home)
    launcher = launcher_from(args, location, registers=True)  # before anything runs
    what = "retraining" if getattr(args, "plan", "") else "training"
    _line(f"samdops: {what} {config.name} on {data} through kfp.local ({args.runner} steps)")
    _line(f"  config {config_path}; state {location}")
    plan = getattr(args, "plan", "") or ""
    result = run_training(
        config,
        data=data,
        data_sha256=digest,
        home=home,
        progress=_line,
        state=args.state,
        plan=plan,
        runner=args.runner,
        launcher=launcher,
    )
    record = result.record.document
    _print_summary(record, result.location, result.run_dir, result.log_path, result.seconds)
    if args.runner == "container":
        print(f"  in {result.containers} step containers")
    change = record.get("pccp")
    if change is not None:
        print(f"PCCP {change['plan']}: {change['outcome']} ({change['modification']})")
        for reason in change["reasons"]:
            print(f"  - {reason}")
        if change["outcome"] != "candidate":
            print(
                f"samdops: {record['name']}@{record['version']} is {change['outcome']} under "
                f"{change['plan']}",
                file=sys.stderr,
            )
            return 1
    if result.record.status == "gate_failed":
        failed = [c for c in record["gate"]["criteria"] if c["passed"] is False]
        listed = "; ".join(f"{c['criterion']} ({c['group']}: {c['value']})" for c in failed)
        print(f"samdops: gate failed: {listed}", file=sys.stderr)
        return 1
    return 0


def _print_summary(
    record: dict[str, Any], location: str, run_dir: Path, log: Path, seconds: float
) -> None:
    gate = "PASSED" if record["gate"]["passed"] else "FAILED"
    artifacts = record["artifacts"]
    print()
    print(f"registered {record['name']}@{record['version']} (status {record['status']})")
    print(f"  model sha256   {record['model']['sha256']} ({record['model']['family']})")
    print(f"  test set       {artifacts['test']['sha256']}")
    print(f"  code           {record['lineage']['code'].get('git_commit')}")
    print()
    print("held-out test set (95% bootstrap CIs):")
    for line in metrics_table(record["metrics"])[2:]:
        _, name, value, _ = line.split("|")
        print(f"  {name.strip():<12} {value.strip()}")
    for cv in record["cross_validation"]:
        mean = sum(cv["auroc"]) / len(cv["auroc"])
        print(f"  {cv['folds']}-fold CV AUROC ({cv['family']}): {mean:.3f}")
    print()
    print(f"acceptance gate: {gate}")
    for c in record["gate"]["criteria"]:
        mark = {True: "pass", False: "FAIL", None: "n/a "}[c["passed"]]
        note = f"  {c['note']}" if c.get("note") else ""
        print(f"  [{mark}] {c['criterion']:<40} {c['group']:<16} {c['value']}{note}")
    print()
    print("where everything went:")
    print(
        f"  registry record   {location}/registry/models/{record['name']}"
        f"/{record['version']:06d}.json"
    )
    print(f"  validation report {_path(artifacts['validation_report']['uri'])}")
    print(f"  evaluation report {_path(artifacts['evaluation']['uri'])}")
    print(f"  model file        {_path(artifacts['model']['uri'])}")
    print(f"  pipeline outputs  {run_dir / 'pipeline-root'}")
    print(f"  pipeline log      {log}")
    print(f"  took {seconds:.1f} s")


def _path(uri: str) -> str:
    return uri.removeprefix("file://")
