"""``samdops run monitor``: one window through the monitoring pipeline, through kfp.local."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

# CLI option -> monitoring pipeline parameter; unset options keep the pipeline's defaults.
_OPTIONS = {
    "model": "model_ref",
    "id_column": "id_column",
    "time_column": "time_column",
    "admission_column": "admission_column",
    "categorical": "categorical",
    "ignore_columns": "ignore_columns",
    "alpha": "alpha",
    "correction": "correction",
    "backend": "backend",
    "retrain_plan": "retrain_plan_id",
    "retrain_data_sha256": "retrain_data_sha256",
}


def add_monitor_parser(
    pipelines: Any, add_common: Callable[[argparse.ArgumentParser], None]
) -> None:
    monitor = pipelines.add_parser(
        "monitor",
        help="check one window for data and concept drift (alerts go to the audit log)",
        description="Run the monitoring pipeline on one window: drift tests, the model's "
        "scores and its performance on the labels that arrived, alerts as audit events, and on "
        "a critical alert (with --retrain-plan) retraining under the PCCP, to a candidate only.",
    )
    where = "a path or s3://BUCKET/KEY (.parquet or .csv); {window} is replaced by the window"
    monitor.add_argument("--reference", required=True, metavar="LOC", help=f"reference: {where}")
    monitor.add_argument(
        "--current",
        required=True,
        metavar="LOC",
        help=f"the window: {where}; or predictions://NAME, what the server answered for model "
        "NAME (its prediction log at the state location)",
    )
    monitor.add_argument(
        "--labels",
        default="",
        metavar="LOC",
        help="labels that arrived; labels://NAME: those the label feed of model NAME received "
        "in the window",
    )
    monitor.add_argument(
        "--window",
        default="",
        help="the window's name (default: yesterday); with predictions:// or labels://, a day "
        "of the rows' clock, N or day-N (the rows whose hour // 24 is N)",
    )
    monitor.add_argument("--model", metavar="REF", help="score with this model (name@version)")
    monitor.add_argument("--id-column", metavar="COL", help="stay or record id (joins labels)")
    monitor.add_argument("--time-column", metavar="COL", help="hour column ('' for none)")
    monitor.add_argument("--admission-column", metavar="COL", help="hours since admission")
    monitor.add_argument("--categorical", metavar="COLS", help="categorical columns")
    monitor.add_argument("--ignore-columns", metavar="COLS", help="columns not to test")
    monitor.add_argument("--alpha", type=float)
    monitor.add_argument("--correction", choices=["bonferroni", "fdr"])
    monitor.add_argument("--backend", choices=["scipy", "alibi"])
    monitor.add_argument("--retrain-plan", metavar="ID", help="on a critical alert, retrain")
    monitor.add_argument(
        "--retrain-config",
        type=Path,
        help="config to retrain under (default: the one --model was trained under, else pima)",
    )
    monitor.add_argument("--retrain-data", type=Path, help="data to retrain on")
    monitor.add_argument("--retrain-data-sha256", help="refuse the retraining data unless so")
    add_common(monitor)
    monitor.set_defaults(func=run_monitor)


def run_monitor(args: argparse.Namespace) -> int:
    from samdops import settings
    from samdops.commands._auth import launcher_from
    from samdops.config import load_config, resolve_config_path
    from samdops.errors import ConfigError
    from samdops.governance.records import Registry
    from samdops.launch.local_run import run_monitoring
    from samdops.settings import samdops_home

    options = {p: getattr(args, o) for o, p in _OPTIONS.items() if getattr(args, o) is not None}
    config = None
    home = samdops_home(args.home)
    location = settings.state_location(args.state or None, home)
    if args.retrain_plan:
        if args.retrain_data is None:
            raise ConfigError("--retrain-plan needs --retrain-data, the data to retrain on")
        if args.retrain_config is None and args.model:
            from samdops.monitoring.registered_model import load_registered_model

            config = load_registered_model(Registry(location), args.model).config
        else:
            config = load_config(resolve_config_path(args.retrain_config))
    launcher = launcher_from(args, location, registers=bool(args.retrain_plan))
    result = run_monitoring(
        reference=args.reference,
        current=args.current,
        labels=args.labels,
        window=args.window,
        home=home,
        state=args.state,
        progress=lambda line: print(line, flush=True),
        runner=args.runner,
        retrain_config=config,
        retrain_data=args.retrain_data,
        launcher=launcher,
        **options,
    )
    findings = result.findings
    data = findings["data_drift"]
    print()
    status = data.get("status") or ("DRIFT" if data["is_drift"] else "no drift")
    print(f"window {findings['window']}: data drift: {status}")
    for finding in data["findings"]:
        print(f"  {finding}")
    served = findings.get("served")  # a window of the prediction log
    if served:
        agree = "differ from" if served["differ"] else "are"
        count = f"{served['differ']} of" if served["differ"] else "all"
        count += f" {served['rows']}"
        print(f"  served risks: {count} {agree} {served['model']}'s own scores of the rows")
    concept = findings.get("concept_drift") or {}
    labelled = concept.get("labelled") or {}
    if labelled.get("auroc") is not None:
        print(f"  AUROC on {labelled['n']} labelled rows: {labelled['auroc']:.3f}")
    for alert in findings["alerts"]:
        print(f"alert: {alert['severity']} {alert['kind']}: {'; '.join(alert['evidence'])}")
    for record in Registry(result.location).records():
        if record.document.get("lineage", {}).get("pipeline_run") == result.run:
            print(f"retrained: {record.id} ({record.document['pccp']['outcome']})")
    print(f"  report  {result.report}")
    print(f"  log     {result.log_path}")
    print(f"  took {result.seconds:.1f} s")
    return 0


__all__ = ["add_monitor_parser", "run_monitor"]
