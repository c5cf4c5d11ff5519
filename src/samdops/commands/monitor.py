"""``samdops monitor``: data drift (and concept drift, given labels) of a window, as JSON.

With ``--model`` the window joins the model's monitoring history at the state location, so each
table read is on that location's audit log first: one ``read`` (purpose monitor) per file, by the
signed-in user (``--user``; the OS account while the location has no users), with the file's
sha256 and rows. Without ``--model`` nothing is kept and nothing is recorded.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samdops.commands._auth import add_reader_args
from samdops.commands._state import add_state_argument
from samdops.errors import DriftInputError

if TYPE_CHECKING:
    import pandas as pd

    from samdops.governance.service import GovernedRegistry, Reader


def register(subparsers: Any) -> None:
    monitor = subparsers.add_parser(
        "monitor",
        help="test a window of model inputs for drift against the reference",
        description="Drift is a finding: exit 0 with or without drift; 2 on bad input.",
    )
    monitor.add_argument("--reference", type=Path, required=True, metavar="REF")
    monitor.add_argument("--current", type=Path, required=True, metavar="CUR")
    monitor.add_argument("--id-column", metavar="COL", help="stay id: tests count stays, not rows")
    monitor.add_argument("--time-column", metavar="COL", help="hour column (not a feature)")
    monitor.add_argument(
        "--admission-column",
        metavar="COL",
        help="hours since admission (e.g. ICULOS): also test the stays admitted in the window",
    )
    monitor.add_argument(
        "--labels",
        type=Path,
        metavar="FILE",
        help="columns label and score; with --model, the label rows that arrived: the id (and "
        "hour) columns, the model's label column and LabelArrival",
    )
    monitor.add_argument(
        "--model",
        metavar="REF",
        help="score the window with this registered model (name@version) and compare its "
        "performance with the model's validated baseline (needs --id-column; --time-column too "
        "when rows are hours of a stay)",
    )
    monitor.add_argument(
        "--window",
        default="",
        metavar="NAME",
        help="the window's name in the model's monitoring history (default: the --current "
        "file's name without its suffix)",
    )
    add_state_argument(monitor)
    add_reader_args(monitor)  # with --model: who reads the window (on the audit log)
    monitor.add_argument(
        "--categorical",
        default="",
        metavar="COLS",
        help="comma-separated; NAME=COL1+COL2 tests one-hot columns as one variable "
        "(e.g. Gender,Unit=Unit1+Unit2)",
    )
    monitor.add_argument(
        "--contract",
        default="",
        metavar="FILE",
        help="data contract YAML: values outside its ranges are findings (with --model, the "
        "model's contract is used unless this is given)",
    )
    monitor.add_argument("--alpha", type=_probability, default=0.01)
    monitor.add_argument("--correction", choices=["bonferroni", "fdr"], default="bonferroni")
    monitor.add_argument(
        "--backend",
        default="scipy",
        metavar="NAME",
        help="drift tests: scipy (default) or alibi-detect's KSDrift and ClassifierDrift",
    )
    monitor.add_argument("--baseline-auroc", type=_probability, default=0.8)
    monitor.add_argument("--threshold", type=_probability, default=0.5)
    monitor.add_argument("--json", action="store_true", help="print the JSON report")
    monitor.set_defaults(func=_monitor)


def _probability(text: str) -> float:
    """A number from 0 to 1 (argparse's ``float`` takes ``nan`` and ``inf``)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # False for NaN too
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1; got {text[:20]!r}")
    return value


def _monitor(args: argparse.Namespace) -> int:
    from samdops.monitoring.io import read_table
    from samdops.steps.monitoring import MonitorOptions, findings_json, monitor_window

    reader = _reader(args) if args.model else None  # allowed before any file is read
    paths = {"reference": args.reference, "current": args.current}
    if args.model and args.labels is not None:
        paths["labels"] = args.labels
    tables = {role: read_table(path, role) for role, path in paths.items()}
    options = MonitorOptions.from_mapping({**vars(args), "model_ref": args.model or ""})
    window = args.window or Path(args.current).stem
    if reader is not None:
        _record_reads(*reader, window, paths, tables)
    # The same procedure as the pipeline's drift-monitor step; a scored window is kept in the
    # model's monitoring history (its scores and labels join later windows' late labels).
    done = monitor_window(
        tables["reference"],
        tables["current"],
        tables.get("labels"),
        window,
        options,
        record_history=bool(args.model),
    )
    report = done.document
    if not args.model:
        report = {**report, "concept_drift": _concept(args)}
    if args.json:
        print(findings_json(report), end="")
        return 0
    data = report["data_drift"]
    print(f"data drift: {data['status']}")
    for finding in data["findings"]:
        print(f"  {finding}")
    if data["untested_columns"]:
        print(f"not in the reference, not tested: {', '.join(data['untested_columns'])}")
    concept = report["concept_drift"] or {}
    if args.model:
        for key, what in (("labelled", "measured"), ("estimated", "estimated (no labels)")):
            part = concept.get(key)
            if part:
                print(f"AUROC {what}: {part['auroc']:.3f} on {part['n']} rows")
    return 0


SOURCE = "samdops monitor"


def _reader(args: argparse.Namespace) -> tuple[GovernedRegistry, Reader]:
    """The state's registry and who reads the window: the signed-in ``--user``, else the OS
    account (only while the state has no users), allowed to read patient data (a refusal is
    audited)."""
    from samdops.commands._auth import reader_from
    from samdops.governance.roles import Permission
    from samdops.governance.service import GovernedRegistry

    registry = GovernedRegistry(args.state or None)
    reader = reader_from(args, registry, source=SOURCE)
    filters = {"model": str(args.model)[:200]}
    registry.authorize_read(
        reader, Permission.READ_DATA, "monitor/window", source=SOURCE, filters=filters
    )
    return registry, reader


def _record_reads(
    registry: GovernedRegistry,
    reader: Reader,
    window: str,
    paths: Mapping[str, Path],
    tables: Mapping[str, pd.DataFrame],
) -> None:
    """One audit ``read`` per file (its sha256 and rows), under one checkpoint, before anything
    is kept or shown (AT-11)."""
    from samdops.audit.event import Source, SourceKind
    from samdops.digest import sha256_file
    from samdops.monitoring.audit_sink import window_read

    audit = registry.audit
    source = Source(SourceKind.CLI, SOURCE)
    audit.recover()
    with audit.covered():
        for role, path in paths.items():
            digest, rows = sha256_file(path), len(tables[role])
            draft = window_read(
                reader.actor, role, str(path), window, digest, rows=rows, source=source
            )
            audit.append(draft)


def _concept(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from samdops.drift.concept import (
        Baseline,
        adwin_changes,
        estimated_window,
        labelled_window,
    )
    from samdops.monitoring.io import read_table

    baseline = Baseline(
        auroc=args.baseline_auroc, alert_rate=float("nan"), threshold=args.threshold
    )
    if args.labels is None:
        return {"status": "no labels given", "is_drift": False}
    labels = read_table(args.labels, "labels")
    if "score" not in labels.columns:
        raise DriftInputError("labels file lacks column score")
    score = labels["score"].to_numpy(dtype=float)
    if "label" not in labels.columns:
        return {"status": "estimated", **estimated_window(score, baseline)}
    y = labels["label"].to_numpy(dtype=float)
    known = np.isfinite(y)
    window = labelled_window(y[known].astype(int), score[known], baseline)
    changes = adwin_changes(y[known], score[known])
    result: dict[str, Any] = {"status": "labelled", **window, "adwin_changes": changes}
    if (~known).any():
        result["unlabelled"] = estimated_window(score[~known], baseline)
    result["is_drift"] = bool(window["is_drift"])
    return result
