"""The training steps run in one process, without KFP: the same step functions, in order.

This is the reference the benchmarks compare kfp.local against, and a quick way to check that
both paths register the same model bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samdops.clock import utc_timestamp
from samdops.config import TrainingConfig
from samdops.governance.identity import UserDirectory
from samdops.governance.launch import Launcher, os_launcher, record_launch
from samdops.governance.records import Registry, RegistryRecord
from samdops.governance.service import GovernedRegistry
from samdops.steps.audited import IN_PROCESS_IMAGE, StepRun, audited_call
from samdops.steps.training import (
    evaluate_step,
    ingest_step,
    load_validator,
    pccp_gate_step,
    register_step,
    train_step,
    validate_step,
)


def _run(step: Callable[..., object], where: StepRun, *args: Any) -> None:
    """``step(*args)`` between its audit events; its errors raised as they are (no exit)."""
    audited_call(step, where, args, {})


@dataclass
class _Artifact:
    """Stands in for a KFP artifact: a path, a URI and metadata."""

    path: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return Path(self.path).resolve().as_uri()


@dataclass
class _MetricsRecorder(_Artifact):
    def log_metric(self, name: str, value: float) -> None:
        self.metadata[name] = value

    def log_roc_curve(self, fpr: list[float], tpr: list[float], threshold: list[float]) -> None:
        self.metadata["roc"] = {"fpr": fpr, "tpr": tpr, "threshold": threshold}

    def log_confusion_matrix(self, categories: list[str], matrix: list[list[int]]) -> None:
        self.metadata["confusion_matrix"] = {"categories": categories, "matrix": matrix}


def run_training_in_process(
    config: TrainingConfig,
    *,
    data: Path,
    data_sha256: str | None,
    state: str | Path,
    workdir: Path,
    run: str = "",
    plan: str = "",
    launcher: Launcher | None = None,
) -> RegistryRecord:
    """Run ingest, validate, train, evaluate (PCCP gate when ``plan``) and register here.

    ``launcher`` (default: the OS account, while the state has no users) is recorded in the
    audit log as the launcher of run ``run`` (default: ``in-process-<UTC time>``), its trainer.
    Returns the registered record; a model registered as gate_failed, rejected or outside the
    plan raises the same error as the pipeline's register step, after registration. Each step
    runs between its audit events, as in the pipeline (image :data:`IN_PROCESS_IMAGE`).
    """
    governed = GovernedRegistry(str(state))
    who = launcher or os_launcher(UserDirectory(governed.state, audit=governed.audit))
    run = run or f"in-process-{utc_timestamp(compact=True)}"
    record_launch(governed.audit, run, who, pipeline="in-process")
    workdir.mkdir(parents=True, exist_ok=True)

    def artifact(name: str) -> _Artifact:
        return _Artifact(str(workdir / name))

    cfg = config.to_json()
    where = StepRun(str(state), run, IN_PROCESS_IMAGE)
    source = _Artifact(str(data), {"sha256": data_sha256 or ""})  # as the importer gives it
    dataset, train, test = artifact("dataset"), artifact("train"), artifact("test")
    _run(ingest_step, where, cfg, source, data_sha256 or "", dataset, train, test, str(state), run)
    report = artifact("validation.html")
    load_validator()
    _run(validate_step, where, cfg, train, test, report)
    model, comparator = artifact("model"), artifact("comparator")
    _run(train_step, where, cfg, train, model, comparator)
    evaluation = artifact("evaluation.json")
    metrics = _MetricsRecorder(str(workdir / "metrics"))
    _run(evaluate_step, where, cfg, model, comparator, test, evaluation, metrics, metrics)
    change = None
    if plan:
        change = artifact("change-record.json")
        _run(
            pccp_gate_step,
            where,
            cfg,
            plan,
            str(state),
            model,
            train,
            test,
            evaluation,
            change,
            artifact("change.html"),
            artifact("change.md"),
        )
    summary, record = artifact("summary.md"), artifact("record.json")
    _run(
        register_step,
        where,
        cfg,
        source,
        dataset,
        train,
        test,
        report,
        model,
        comparator,
        evaluation,
        str(state),
        run,
        IN_PROCESS_IMAGE,
        summary,
        record,
        change,
    )
    return Registry(str(state)).get(record.metadata["id"])
