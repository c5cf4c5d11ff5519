"""The monitoring pipeline's steps, as its KFP components call them (thin components).

fetch window -> drift monitor (HTML report, Markdown summary, findings JSON, metrics)
-> record alerts (audit entries and SIEM events). A critical alert may start the retraining
pipeline, which goes through the change-control gate; the monitor never releases a model.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samdops._types import Array
from samdops.atomic import atomic_write_text
from samdops.clock import utc_now
from samdops.config import load_contract
from samdops.digest import parse_digest
from samdops.drift.alerts import Alert, AlertSink, concept_drift_alert, data_drift_alert
from samdops.drift.backends import make_detector
from samdops.drift.categorical import parse_categorical
from samdops.drift.concept import Baseline
from samdops.drift.concept_monitor import ConceptMonitor
from samdops.drift.performance import LABEL_COLUMNS, window_performance
from samdops.drift.result import DataDriftResult
from samdops.errors import ConfigError, DriftInputError
from samdops.hospital.columns import LABEL
from samdops.jsonsafe import json_safe
from samdops.monitoring.audit_sink import monitor_actor, window_dataset, window_read
from samdops.monitoring.history import MonitorHistory, WindowRecord, monitoring_prefix
from samdops.monitoring.label_feed import LabelFeed
from samdops.monitoring.late_labels import SCORE, LateLabels
from samdops.monitoring.report import html_report, markdown_summary
from samdops.monitoring.scoring import MonitoredModel
from samdops.monitoring.served_window import (
    LABELS,
    PREDICTIONS,
    SERVED_COLUMNS,
    SERVED_RISK,
    check_served_model,
    check_served_scores,
    earlier_rows,
    feed_name,
    is_served,
    served_scores_alert,
    served_window,
    window_day,
)
from samdops.monitoring.sources import read_source
from samdops.monitoring.window_checks import check_key_columns, check_rows, contract_ranges
from samdops.steps.artifacts import ArtifactLike, record, verified, verified_bytes
from samdops.steps.audited import current_trail
from samdops.store.state import StateLocation, open_state

WINDOW_PLACEHOLDER = "{window}"
RETRAIN = "retrain"


def resolve_window(window: str, now: datetime | None = None) -> str:
    """``window``, or yesterday's UTC date (``YYYY-MM-DD``) when empty (scheduled runs)."""
    if window.strip():
        return window.strip()
    return ((now or utc_now()) - timedelta(days=1)).strftime("%Y-%m-%d")


def fetch_window_step(
    reference_path: str,
    current_path: str,
    labels_path: str,
    window: str,
    reference: ArtifactLike,
    current: ArtifactLike,
    labels: ArtifactLike,
    *,
    state: str = "",
    id_column: str = "",
    time_column: str = "",
) -> str:
    """Copy the reference, the window and its labels (if any; paths or ``s3://`` objects) into
    the run's artifacts as Parquet with digests; ``{window}`` in a location is replaced by the
    window. Return the window.

    ``current_path`` ``predictions://NAME`` is the prediction log of model NAME at the state
    location ``state``, and ``labels_path`` ``labels://NAME`` its label feed: the window is
    then a day of the rows' clock (``N`` or ``day-N``: rows whose ``time_column // 24`` is N,
    each ``(id_column, time_column)`` once, with the served ``risk``) and its labels those that
    arrived that day (:mod:`samdops.monitoring.served_window`).

    Each table read is one audit ``read`` (purpose monitor) by the drift monitor on the step's
    trail, with the rows and digest of its copy; no labels (``labels_path`` empty) is no read."""
    resolved = resolve_window(window)
    log_name = feed_name(current_path, PREDICTIONS)
    feed = feed_name(labels_path, LABELS)
    for location, what, wrong in (
        (reference_path, "reference", (PREDICTIONS, LABELS)),
        (current_path, "current window", (LABELS,)),
        (labels_path, "labels", (PREDICTIONS,)),
    ):
        if any(location.startswith(scheme) for scheme in wrong):
            raise DriftInputError(
                f"the {what} cannot be {location[:60]}: predictions://NAME names a current "
                "window, labels://NAME its labels"
            )
    where = open_state(state or None) if log_name or feed else None

    def table(location: str, what: str) -> pd.DataFrame:
        return read_source(location.replace(WINDOW_PLACEHOLDER, resolved), what)

    _write(table(reference_path, "reference"), reference, "reference", reference_path, resolved)
    if log_name is not None and where is not None:
        window_rows = served_window(
            where, log_name, resolved, id_column=id_column, time_column=time_column
        )
        _write(window_rows, current, "current", current_path, resolved)
    else:
        _write(table(current_path, "current"), current, "current", current_path, resolved)
    if feed is not None and where is not None:
        arrived = LabelFeed(where, feed).window(window_day(resolved))
        absent = [c for c in (id_column, time_column) if c and c not in arrived.columns]
        if len(arrived.columns) and absent:
            raise DriftInputError(
                f"the label feed of {feed} has no column(s) {', '.join(absent)}; its labels "
                f"are keyed by {', '.join(map(str, arrived.columns[:-2]))}"
            )
        _write(arrived, labels, "labels", labels_path, resolved)  # none arrived: a read of 0 rows
    elif labels_path:
        _write(table(labels_path, "labels"), labels, "labels", labels_path, resolved)
    else:  # an empty table: the window has no labels yet (nothing was read)
        _write(pd.DataFrame(), labels)
    return resolved


def _write(
    frame: pd.DataFrame,
    artifact: ArtifactLike,
    role: str = "",
    location: str = "",
    window: str = "",
) -> None:
    """Write ``frame`` as the artifact's Parquet and record its digest and rows. With ``role``,
    the table was read from ``location``: note that read (the copy's digest and rows) and name
    its dataset on the artifact, so the drift monitor's read of the copy names the same."""
    Path(artifact.path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(artifact.path, index=False)
    if not role:
        record(artifact, rows=len(frame))
        return
    location = location.replace(WINDOW_PLACEHOLDER, window)
    digest = record(artifact, rows=len(frame), dataset=window_dataset(role, location))
    _note_read(role, location, window, digest, len(frame))


def _note_read(
    role: str, location: str, window: str, digest: str, rows: int, dataset: str = ""
) -> None:
    """Note on the running step's audit trail that the drift monitor read ``rows`` rows
    (``digest``) of the ``role`` table of ``window``: appended with the step's end, before the
    step returns. A step function called outside a pipeline step (no trail) records nothing."""
    trail = current_trail()
    if trail is not None:
        actor = monitor_actor()
        draft = window_read(
            actor, role, location, window, digest, rows=rows, source=trail.source, dataset=dataset
        )
        trail.reads.append(draft)


def _read_window(artifact: ArtifactLike, what: str, role: str, window: str) -> pd.DataFrame:
    """The fetched ``role`` table, verified against its digest, and its read noted (the dataset
    fetch_window named on it, the digest it recorded, its rows)."""
    table = pd.read_parquet(verified(artifact, what))  # fetch_window wrote all three as Parquet
    dataset = str(artifact.metadata.get("dataset") or "")
    if dataset:  # else a window without labels: that empty table is no patient data
        digest = parse_digest(str(artifact.metadata["sha256"]))
        _note_read(role, artifact.uri or artifact.path, window, digest, len(table), dataset)
    return table


def load_monitored_model(ref: str, state: str | StateLocation) -> tuple[str, MonitoredModel]:
    """The registered model ``ref`` and its validation baseline, from the governed registry of
    the state location ``state`` (empty: ``$SAMDOPS_STATE``, else the home)."""
    from samdops.governance.service import GovernedRegistry
    from samdops.monitoring.registered_model import load_registered_model

    registry = GovernedRegistry(state or None, sinks=[])
    model_id = registry.get(ref).record.id  # verified against its audit event
    return model_id, load_registered_model(registry, model_id)


@dataclass(frozen=True)
class MonitorOptions:
    """How a window is monitored: the same options for the CLI and the pipeline step."""

    id_column: str = ""
    time_column: str = ""
    admission_column: str = ""
    categorical: str = ""  # NAME=COL1+COL2 tests one-hot columns as one variable
    ignore_columns: str = ""
    alpha: float = 0.01
    correction: str = "bonferroni"
    backend: str = "scipy"
    model_ref: str = ""
    state: str = ""
    contract: str = ""  # a data contract YAML whose ranges the window's values must keep

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> MonitorOptions:
        """The options among ``values`` (a component's parameters, the CLI's arguments)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names and v is not None})


@dataclass(frozen=True)
class WindowMonitoring:
    """Everything one window's monitoring found, and what the report draws."""

    document: dict[str, Any]  # the findings, as written and printed
    result: DataDriftResult
    performance: dict[str, Any] | None
    alerts: list[Alert]
    records: list[WindowRecord]  # the history's recent windows, this one last
    plotted: list[str]  # the numeric features the report draws

    @property
    def outcome(self) -> dict[str, Any]:
        return {
            "is_drift": self.result.is_drift,
            "drifted_tests": len(self.result.drifted),
            "blamed": self.result.blamed or "",
            "alerts": len(self.alerts),
            "critical": any(a.severity == "critical" for a in self.alerts),
            "auroc": _auroc(self.performance)[0],
        }


def monitor_window(
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    known: pd.DataFrame | None,
    window: str,
    options: MonitorOptions,
    model: MonitoredModel | None = None,
    *,
    record_history: bool = True,
) -> WindowMonitoring:
    """Test window ``cur`` against ``ref`` (inputs and, with a model, its scores and
    performance on the labels ``known`` that arrived) and, with ``record_history``, keep the
    window, its scores and its labels in the model's monitoring history at the state location.

    ``model`` is for callers that already hold the model; else ``options.model_ref`` is loaded.
    """
    o = options
    check_key_columns(o.id_column, o.time_column, o.admission_column)
    check_rows(ref, "the reference", o.id_column)
    check_rows(cur, "the current window", o.id_column)
    known = known if known is not None else pd.DataFrame()
    model_id = ""
    state = open_state(o.state or None)
    if model is None and o.model_ref:
        model_id, model = load_monitored_model(o.model_ref, state)
    elif model is not None:
        model_id = o.model_ref or "model"
    label = LABEL if model is None else model.label
    served = is_served(cur)  # a window of the prediction log: its risks are what was served
    ignored = {c for c in o.ignore_columns.split(",") if c} | {*LABEL_COLUMNS, label}
    if served:
        ignored |= set(SERVED_COLUMNS)
    special = {c for c in (o.id_column, o.time_column) if c}
    spec = parse_categorical(o.categorical)
    features = _check_columns(ref, cur, special, ignored, o.admission_column, spec.columns)
    categories = [c for c in spec.columns if c in features]
    base = monitoring_prefix(model_id)
    history = MonitorHistory(state.documents, f"{base}/history")
    past = history.recent() if record_history else []
    stream = LateLabels(
        state.documents,
        prefix=f"{base}/labels",
        id_column=o.id_column,
        time_column=o.time_column,
        label_column=label,
    )
    scorer = None
    served_check: dict[str, Any] | None = None
    if model is not None:
        if not o.id_column:
            raise ConfigError(
                "a scored window needs id_column (--id-column) to join its labels to its rows"
            )
        if model.looks_back and not o.time_column:
            raise ConfigError(
                "this model's inputs look back over earlier hours of a stay: a scored window "
                "needs time_column (--time-column) too"
            )
        if served:
            check_served_model(cur, model_id, window)
            served_check = check_served_scores(
                model.score,
                cur,
                earlier_rows(state, cur, id_column=o.id_column, time_column=o.time_column)
                if model.looks_back
                else None,
                id_column=o.id_column,
                time_column=o.time_column,
                model_id=model_id,
            )
            scorer = _WindowScorer(model.score, cur, None, served=cur[SERVED_RISK])
        else:
            earlier = (
                stream.previous_rows([r.window for r in past], window, cur[o.id_column].unique())
                if record_history and model.looks_back
                else None
            )
            scorer = _WindowScorer(model.score, cur, earlier)
    detector = make_detector(
        o.backend,
        features,
        categorical=categories,
        id_column=o.id_column or None,
        time_column=o.time_column or None,
        admission_column=o.admission_column if o.admission_column in features else None,
        alpha=o.alpha,
        correction=o.correction,
        scorer=scorer,
        category_groups={
            name: cols for name, cols in spec.groups.items() if set(cols) <= set(features)
        },
        alert_threshold=None if model is None else float(model.baseline.threshold),
        ranges=contract_ranges(
            load_contract(o.contract) if o.contract else model.config.contract if model else None
        ),
    )
    result = detector.fit(ref).predict(cur)
    performance: dict[str, Any] | None = None
    if model is not None and scorer is not None:
        performance = window_performance(
            cur,
            scorer(cur),
            known if len(known) else None,
            model.baseline,
            id_column=o.id_column,
            time_column=o.time_column,
            label_column=label,
        )
        if record_history:
            performance["sequential"] = _sequential(
                stream,
                ConceptMonitor(
                    Baseline(
                        auroc=float(model.baseline.auroc),
                        alert_rate=float(model.baseline.alert_rate),
                        threshold=float(model.baseline.threshold),
                    ),
                    features,
                    id_column=o.id_column,
                    label_column=label,
                    alpha=o.alpha,
                    correction=o.correction,
                ),
                ref,
                cur.assign(**{SCORE: scorer(cur)})[[*stream.keys, SCORE, *features]],
                known,
                window,
                [r.window for r in past],
            )
        performance["is_drift"] = bool(
            performance["is_drift"] or (performance.get("sequential") or {}).get("is_drift")
        )
    alerts = [
        a
        for a in (
            data_drift_alert(result, window, model_id),
            None if performance is None else concept_drift_alert(performance, window, model_id),
            None if served_check is None else served_scores_alert(served_check, window, model_id),
        )
        if a is not None
    ]
    this = _window_record(window, result.tests, performance, bool(result.is_drift or alerts))
    document = {
        "window": window,
        "model": model_id or None,
        "data_drift": {
            **result.as_dict(),
            "untested_columns": [
                c for c in cur.columns if c not in ref.columns and c not in ignored
            ],
        },
        "concept_drift": performance,
        "alerts": [a.as_dict() for a in alerts],
    }
    if served:  # only then: the findings of a table window are as they were
        document["served"] = served_check
    if record_history:
        history.append(this)
    return WindowMonitoring(
        document=document,
        result=result,
        performance=performance,
        alerts=alerts,
        records=[*past, this],
        plotted=[f for f in features if f not in categories],
    )


def findings_json(document: dict[str, Any]) -> str:
    """The findings as written by the step and printed by ``samdops monitor --json``."""
    return json.dumps(json_safe(document), sort_keys=True, default=_json) + "\n"


def _check_columns(
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    special: set[str],
    ignored: set[str],
    admission_column: str,
    categorical: Sequence[str],
) -> list[str]:
    """The reference's feature columns, after checking that the window can be compared.

    The reference names what is monitored: a window lacking one of its columns cannot be
    compared, while columns the reference lacks (an EHR extract carries more) are reported as
    untested. Label columns are not inputs: a window whose labels have not arrived lacks them.
    """
    missing = [c for c in ref.columns if c not in cur.columns and c not in ignored]
    if missing:
        raise DriftInputError(
            f"current columns do not match the reference: current lacks {', '.join(missing)}"
        )
    for column in sorted(special) + ([admission_column] if admission_column else []):
        if column not in ref.columns:
            raise DriftInputError(f"column {column} is not in the reference")
    features = [c for c in ref.columns if c not in special | ignored]
    for column in features:
        for frame, what in ((ref, "reference"), (cur, "current")):
            if column not in categorical and not pd.api.types.is_numeric_dtype(frame[column]):
                raise DriftInputError(
                    f"{what} column {column} is not numeric; list it in --categorical"
                )
    return features


def drift_monitor_step(
    reference: ArtifactLike,
    current: ArtifactLike,
    labels: ArtifactLike,
    window: str,
    options: MonitorOptions,
    report: ArtifactLike,
    summary: ArtifactLike,
    findings: ArtifactLike,
    model: MonitoredModel | None = None,
) -> dict[str, Any]:
    """:func:`monitor_window` on the fetched window; write the report, summary and findings.
    Each input must match the sha256 fetch_window recorded with it; each output records its own."""
    ref = _read_window(reference, "reference data", "reference", window)
    cur = _read_window(current, "current window", "current", window)
    known = _read_window(labels, "window labels", "labels", window)
    done = monitor_window(ref, cur, known, window, options, model)
    page = html_report(
        done.result,
        window,
        {f: ref[f].to_numpy(dtype=float) for f in done.plotted},
        {f: cur[f].to_numpy(dtype=float) for f in done.plotted},
        performance=done.performance,
        records=done.records,
    )
    atomic_write_text(report.path, page)
    record(report)
    atomic_write_text(
        summary.path, markdown_summary(done.result, window, done.performance, done.alerts)
    )
    record(summary)
    atomic_write_text(findings.path, findings_json(done.document))
    record(findings)
    return done.outcome


def _sequential(
    stream: LateLabels,
    monitor: ConceptMonitor,
    reference: pd.DataFrame,
    scored: pd.DataFrame,
    labels: pd.DataFrame,
    window: str,
    past: list[str],
) -> dict[str, Any] | None:
    """The concept monitor over the labels that arrived in this window and the recent ones
    (``None`` when the reference has no labels to compare with, or no labels arrived yet)."""
    stream.record_scored(window, scored)
    keys = [*stream.keys, stream.label_column]
    if stream.label_column not in labels.columns:  # no labels arrived in this window
        labels = pd.DataFrame(columns=keys)
    stream.record_arrived(window, labels, past)
    if stream.label_column not in reference.columns:
        return None
    result = stream.replay(monitor.fit(reference), past, window)
    return None if result is None else result.as_dict()


def record_alerts_step(
    findings: ArtifactLike,
    state: str,
    run: str,
    retrain_plan_id: str,
    sink: AlertSink | None = None,
) -> str:
    """Record each alert of the window as an audit entry (and SIEM event). Return ``"retrain"``
    when retraining is configured (``retrain_plan_id``) and an alert is critical, else ``""``;
    the alert's entry says whether retraining was requested and under which run. The findings
    are read once and must match the sha256 drift_monitor recorded with them."""
    data, digest = verified_bytes(findings, "drift findings")
    document = json.loads(data.decode("utf-8"))
    alerts = [Alert.from_dict(a) for a in document.get("alerts", [])]
    retrain = bool(retrain_plan_id) and any(a.severity == "critical" for a in alerts)
    sink = sink if sink is not None else _audit_sink(state, run)
    for alert in alerts:
        requested = retrain and alert.severity == "critical"
        how = f"requested: run {run or 'unknown'}, PCCP {retrain_plan_id}" if requested else ""
        changes: dict[str, Any] = {"findings_sha256": digest}
        if how:
            changes["retraining"] = how
        sink.emit(dataclasses.replace(alert, **changes))
    return RETRAIN if retrain else ""


def _audit_sink(state: str, run: str) -> AlertSink:
    from samdops.monitoring.audit_sink import AuditAlertSink

    return AuditAlertSink.for_state(state or None, run)


class _WindowScorer:
    """The model's scores of the current window, computed once with the same stays' hours of
    the previous window in front (its features look back over the last hours, across the
    window's start), or the risks that were served for it (a window of the prediction log);
    any other frame (the reference, a subset) is scored as it is."""

    def __init__(
        self,
        score: Callable[[pd.DataFrame], Array],
        current: pd.DataFrame,
        earlier: pd.DataFrame | None,
        *,
        served: pd.Series | None = None,
    ) -> None:
        self._score = score
        self._current = current
        self._earlier = earlier
        self._scores: Array | None = (
            None if served is None else served.to_numpy(dtype=float, copy=True)
        )

    def __call__(self, frame: pd.DataFrame) -> Array:
        if frame is not self._current:
            return np.asarray(self._score(frame), dtype=float)
        if self._scores is None:
            if self._earlier is None:
                self._scores = np.asarray(self._score(frame), dtype=float)
            else:
                both = pd.concat([self._earlier, frame], ignore_index=True)
                scores = np.asarray(self._score(both), dtype=float)
                self._scores = scores[len(self._earlier) :]
        return self._scores


def _auroc(performance: dict[str, Any] | None) -> tuple[float | None, bool]:
    if performance is None:
        return None, False
    for key, estimated in (("labelled", False), ("estimated", True)):
        part = performance.get(key)
        if part and part.get("auroc") is not None and math.isfinite(part["auroc"]):
            return float(part["auroc"]), estimated
    return None, False


def _window_record(
    window: str, tests: Any, performance: dict[str, Any] | None, is_drift: bool
) -> WindowRecord:
    p_values = [t.p_value for t in tests if math.isfinite(t.p_value)]
    auroc, estimated = _auroc(performance)
    part = (performance or {}).get("labelled") or (performance or {}).get("estimated") or {}
    return WindowRecord(
        window=window,
        min_p_value=min(p_values, default=1.0),
        is_drift=is_drift,
        auroc=auroc,
        auroc_estimated=estimated,
        alert_rate=part.get("alert_rate"),
    )


def _json(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")
