"""``samdops monitor``: data drift (and concept drift, given labels) of a window, as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from samdops.errors import DriftInputError


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
        help="columns label and score; with --model, the simulator's label rows (stay id, hour, "
        "SepsisLabel, LabelArrival)",
    )
    monitor.add_argument(
        "--model",
        metavar="REF",
        help="score the window with this registered model (name@version) and compare its "
        "performance with the model's validated baseline (needs --id-column, --time-column)",
    )
    monitor.add_argument("--home", default="", metavar="DIR", help="samdops home of the registry")
    monitor.add_argument(
        "--store", default="", metavar="LOC", help="artifact store (default: the home's)"
    )
    monitor.add_argument(
        "--categorical",
        default="",
        metavar="COLS",
        help="comma-separated; NAME=COL1+COL2 tests one-hot columns as one variable "
        "(e.g. Gender,Unit=Unit1+Unit2)",
    )
    monitor.add_argument("--alpha", type=float, default=0.01)
    monitor.add_argument("--correction", choices=["bonferroni", "fdr"], default="bonferroni")
    monitor.add_argument(
        "--backend",
        default="scipy",
        metavar="NAME",
        help="drift tests: scipy (default) or alibi-detect's KSDrift and ClassifierDrift",
    )
    monitor.add_argument("--baseline-auroc", type=float, default=0.8)
    monitor.add_argument("--threshold", type=float, default=0.5)
    monitor.add_argument("--json", action="store_true", help="print the JSON report")
    monitor.set_defaults(func=_monitor)


def _monitor(args: argparse.Namespace) -> int:
    import pandas as pd

    from samdops.drift.backends import make_detector
    from samdops.drift.categorical import parse_categorical
    from samdops.drift.performance import LABEL_COLUMNS
    from samdops.jsonsafe import json_safe
    from samdops.monitoring.io import read_table

    reference = read_table(args.reference, "reference")
    current = read_table(args.current, "current")
    # The reference names what is monitored: a window lacking one of its columns cannot be
    # compared, while columns the reference lacks (an EHR extract carries more) are reported as
    # untested. Label columns are not inputs: a window whose labels have not arrived lacks them.
    missing = [c for c in reference.columns if c not in current.columns and c not in LABEL_COLUMNS]
    if missing:
        raise DriftInputError(
            f"current columns do not match the reference: current lacks {', '.join(missing)}"
        )
    untested = [c for c in current.columns if c not in reference.columns and c not in LABEL_COLUMNS]
    current = current.drop(columns=untested)
    special = [c for c in (args.id_column, args.time_column) if c]
    special += [c for c in LABEL_COLUMNS if c in reference.columns]
    for column in [*special, *([args.admission_column] if args.admission_column else [])]:
        if column not in reference.columns:
            raise DriftInputError(f"column {column} is not in the reference")
    spec = parse_categorical(args.categorical)
    categorical = list(spec.columns)
    features = [c for c in reference.columns if c not in special]
    for column in features:
        for frame, what in ((reference, "reference"), (current, "current")):
            if column not in categorical and not pd.api.types.is_numeric_dtype(frame[column]):
                raise DriftInputError(
                    f"{what} column {column} is not numeric; list it in --categorical"
                )
    model = None
    if args.model:
        if not (args.id_column and args.time_column):
            raise DriftInputError("--model needs --id-column and --time-column to join labels")
        from samdops.steps.monitoring import load_monitored_model

        _, model = load_monitored_model(args.model, args.home, args.store)
    detector = make_detector(
        args.backend,
        features,
        categorical=categorical,
        id_column=args.id_column,
        time_column=args.time_column,
        admission_column=args.admission_column,
        alpha=args.alpha,
        correction=args.correction,
        scorer=None if model is None else model.score,
        category_groups=spec.groups,
        alert_threshold=None if model is None else model.baseline.threshold,
    )
    data = detector.fit(reference).predict(current).as_dict()
    if model is None:
        concept = _concept(args)
    else:
        from samdops.drift.performance import window_performance

        labels = None if args.labels is None else read_table(args.labels, "labels")
        concept = window_performance(
            current,
            model.score(current),
            labels,
            model.baseline,
            id_column=args.id_column,
            time_column=args.time_column,
        )
    report = {"data_drift": {**data, "untested_columns": untested}, "concept_drift": concept}
    if args.json:
        print(json.dumps(json_safe(report), sort_keys=True))
    else:
        state = "DRIFT" if data["is_drift"] else "no drift"
        print(f"data drift: {state}")
        for finding in data["findings"]:
            print(f"  {finding}")
        if untested:
            print(f"not in the reference, not tested: {', '.join(untested)}")
        if model is not None:
            for key, what in (("labelled", "measured"), ("estimated", "estimated (no labels)")):
                part = concept.get(key)
                if part:
                    print(f"AUROC {what}: {part['auroc']:.3f} on {part['n']} rows")
    return 0


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
