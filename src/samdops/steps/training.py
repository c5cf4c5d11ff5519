"""The pipeline steps, as the KFP components call them.

Each ``*_step`` function takes KFP artifact objects (anything with ``path`` and ``metadata``),
verifies every input against the digest recorded by the step that wrote it, calls the library,
and records the digest of every output. Components are one-line wrappers around
:func:`run_step`, so a library error becomes one clear line and a non-zero exit.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from samdops import settings
from samdops.audit.activity import Purpose
from samdops.config import TrainingConfig
from samdops.digest import parse_digest
from samdops.errors import GateFailed, SamdopsError
from samdops.steps.artifacts import ArtifactLike
from samdops.steps.artifacts import record as _record
from samdops.steps.artifacts import verified as _verified
from samdops.steps.audited import (
    StepRun,
    audited_call,
    current_trail,
    function_name,
    note_read,
    read_data,
)

P = ParamSpec("P")
R = TypeVar("R")


def run_step(
    step: Callable[P, R], where: StepRun | None, /, *args: P.args, **kwargs: P.kwargs
) -> R:
    """Run ``step`` and return its result; on a samdops error print one line, append a record
    naming ``step`` to $SAMDOPS_ERROR_FILE and exit with status 1.

    With ``where`` (every component passes one), the step runs between its ``step_start`` and
    ``step_end`` audit events at that state location (:mod:`samdops.steps.audited`); an event
    that cannot be written fails the step. ``None`` runs it unaudited (tests of the boundary).
    Pass the step function itself with its arguments (not a lambda or closure around it), so
    the error record and the events name the real step.
    """
    try:
        if where is None:
            return step(*args, **kwargs)
        return audited_call(step, where, args, kwargs)
    except SamdopsError as exc:
        line = f"samdops: error: {exc}"
        print(line, file=sys.stderr, flush=True)
        error_file = settings.error_file()
        if error_file:
            with open(error_file, "a", encoding="utf-8") as f:
                name, kind = function_name(step), type(exc).__name__
                record = {"step": name, "type": kind, "error": str(exc)}
                f.write(json.dumps(record) + "\n")
        raise SystemExit(1) from None


def ingest_step(
    config: str,
    source: ArtifactLike,
    expected_sha256: str,
    dataset: ArtifactLike,
    train: ArtifactLike,
    test: ArtifactLike,
    state: str,
    run: str,
) -> None:
    """Check the raw data (digest, contract), write it typed, split it, register the test set.

    Rows of one group (the contract's ``group``, e.g. a stay) all go to the same side.
    """
    from samdops.governance.records import Registry
    from samdops.training.ingest import ingest
    from samdops.training.split import split_dataset

    cfg = TrainingConfig.from_json(config)
    expected = parse_digest(expected_sha256) if expected_sha256 else None
    result = ingest(source.path, cfg.contract, dataset.path, expected_sha256=expected)
    name = cfg.name
    note_read(f"{name}/source", result.source_sha256, rows=result.rows, purpose=Purpose.INGEST)
    _record(dataset, source_sha256=result.source_sha256, rows=result.rows)
    split = split_dataset(
        dataset.path, cfg.contract.label, cfg.split, train.path, test.path, cfg.contract.group
    )
    _record(train, rows=split.train_rows)
    _record(test, rows=split.test_rows)
    trail = current_trail()
    registration = Registry(state or None).register_test_set(
        split.test_sha256,
        run=run,
        rows=split.test_rows,
        audit=trail.log if trail is not None else None,
    )
    test.metadata["registered_at"] = registration["registered_at"]


def load_validator() -> None:
    """Import the validator's library (deepchecks) quietly, before the step's start event.

    Measured on the Pima run: imported after the audit log was opened and appended to, its
    import (the IRI grammar that jsonschema builds with lark) churns memory mappings (about
    220,000 mmap/munmap calls instead of 28,000) and the validate step takes 3 s longer;
    imported first, it costs what it did before the step was audited. No data is read here.
    """
    import contextlib
    import io
    import warnings

    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        contextlib.suppress(ImportError),  # another validator: the step says what is missing
    ):
        warnings.simplefilter("ignore")
        import deepchecks.tabular  # noqa: F401


def validate_step(
    config: str, train: ArtifactLike, test: ArtifactLike, report: ArtifactLike
) -> None:
    """Re-check the contract and run the validation suite; save its HTML report."""
    from samdops.validation import validate_split

    cfg = TrainingConfig.from_json(config)
    name, purpose = cfg.name, Purpose.VALIDATE
    validate_split(
        read_data(train, "training set", dataset=f"{name}/train", purpose=purpose),
        read_data(test, "test set", dataset=f"{name}/test", purpose=purpose),
        cfg.contract,
        cfg.validation,
        report.path,
    )
    _record(report)


def train_step(
    config: str, train: ArtifactLike, model: ArtifactLike, comparator: ArtifactLike
) -> None:
    """Train the configured model and the comparator; record k-fold CV AUROC of both.

    The config's feature transform, if any, turns the training rows into the model's inputs.
    """
    from samdops.clock import utc_timestamp
    from samdops.training.train import train_from_config

    cfg = TrainingConfig.from_json(config)
    trained_at = utc_timestamp()
    train_path = read_data(
        train, "training set", dataset=f"{cfg.name}/train", purpose=Purpose.TRAIN
    )
    result = train_from_config(train_path, cfg, model.path, comparator.path)
    cv = [
        {"family": c.family, "folds": c.folds, "auroc": list(c.auroc_per_fold)}
        for c in result.cross_validation
    ]
    _record(model, family=result.model.family, cross_validation=cv, trained_at=trained_at)
    _record(comparator, family=result.comparator.family)


def evaluate_step(
    config: str,
    model: ArtifactLike,
    comparator: ArtifactLike,
    test: ArtifactLike,
    evaluation: ArtifactLike,
    metrics: Any,
    curves: Any,
) -> None:
    """Evaluate on the held-out test set; log metrics and curves for the KFP UI."""
    from samdops.atomic import atomic_write_bytes
    from samdops.digest import canonical_json
    from samdops.training.evaluate import evaluate

    cfg = TrainingConfig.from_json(config)
    result = evaluate(
        _verified(model, "model"),
        _verified(comparator, "comparator model"),
        read_data(test, "test set", dataset=f"{cfg.name}/test", purpose=Purpose.EVALUATE),
        cfg.contract.label,
        cfg.evaluation,
        tuple(
            # kfp hands integers in artifact metadata back as floats
            {**cv, "folds": int(cv["folds"])}
            for cv in model.metadata.get("cross_validation", ())
        ),
        transform=cfg.transform(),
        group=cfg.contract.group,
    )
    atomic_write_bytes(evaluation.path, canonical_json(result.as_dict()))
    _record(evaluation, gate_passed=result.gate_passed)
    for name, estimate in result.overall.metrics.items():
        for statistic, value in estimate.as_dict().items():
            if value is not None:
                key = name if statistic == "point" else f"{name}_{statistic}"
                metrics.log_metric(key, value)
    roc = result.roc_curve
    curves.log_roc_curve(roc["fpr"], roc["tpr"], roc["threshold"])
    curves.log_confusion_matrix(["no onset", "onset"], result.confusion_matrix)


def register_step(
    config: str,
    source: ArtifactLike,
    dataset: ArtifactLike,
    train: ArtifactLike,
    test: ArtifactLike,
    validation_report: ArtifactLike,
    model: ArtifactLike,
    comparator: ArtifactLike,
    evaluation: ArtifactLike,
    state: str,
    run: str,
    image: str,
    summary: ArtifactLike,
    record: ArtifactLike,
    change_record: ArtifactLike | None = None,
    pipeline_spec: str = "",
) -> None:
    """Store every artifact by digest and write the registration record with its lineage.

    A model that missed an acceptance criterion is registered with status ``gate_failed`` (the
    evidence is kept) and the step then fails, so the run shows the failure. ``state`` is the
    state location (a directory or ``s3://BUCKET/PREFIX``; empty: ``$SAMDOPS_STATE``, else the
    home); its credentials are read now from the secrets backend, never passed as parameters.
    """
    from samdops.atomic import atomic_write_bytes, atomic_write_text
    from samdops.digest import canonical_json
    from samdops.governance.launch import launched_by
    from samdops.governance.lineage import code_version
    from samdops.governance.service import PIPELINE_ACTOR, GovernedRegistry
    from samdops.summary import run_summary_markdown

    cfg = TrainingConfig.from_json(config)
    governed = GovernedRegistry(state or None)
    registry = governed.registry
    # The trainer is the person the launcher authenticated and recorded for this run, never an
    # environment variable; a run no person launched is the pipeline service account's alone.
    launcher = launched_by(governed.audit.entries(), run) if run else None
    trained_by = launcher.id if launcher is not None else PIPELINE_ACTOR
    inputs = {
        "dataset": (dataset, "typed dataset"),
        "train": (train, "training set"),
        "test": (test, "test set"),
        "validation_report": (validation_report, "validation report"),
        "model": (model, "model"),
        "comparator": (comparator, "comparator model"),
        "evaluation": (evaluation, "evaluation report"),
    }
    patient_data = {"dataset", "train", "test"}
    artifacts: dict[str, dict[str, str]] = {}
    for key, (artifact, what) in inputs.items():
        if key in patient_data:
            dataset_name = f"{cfg.name}/{key}"
            path = read_data(artifact, what, dataset=dataset_name, purpose=Purpose.REGISTER)
        else:
            path = _verified(artifact, what)
        digest = registry.store.put_file(path)
        artifacts[key] = {"sha256": digest, "uri": registry.store.uri(digest)}
    change: dict[str, Any] | None = None
    if change_record is not None:
        change = json.loads(Path(_verified(change_record, "change record")).read_bytes())
        digest = registry.store.put_file(change_record.path)
        artifacts["change_record"] = {"sha256": digest, "uri": registry.store.uri(digest)}
    config_digest = registry.store.put_bytes(config.encode("utf-8"))
    test_set = registry.test_set(artifacts["test"]["sha256"])
    report = json.loads(Path(evaluation.path).read_bytes())
    gate = report["gate"]
    fields: dict[str, Any] = {
        "status": "registered" if gate["passed"] else "gate_failed",
        "trained_by": trained_by,
        "model": {**artifacts["model"], "family": model.metadata.get("family")},
        "gate": gate,
        "metrics": report["overall"]["metrics"],
        "cross_validation": report["cross_validation"],
        "artifacts": artifacts,
        "lineage": {
            "source_data": {"sha256": dataset.metadata.get("source_sha256"), "uri": source.uri},
            "test_set_registered_at": test_set["registered_at"],
            "config": {"sha256": config_digest, "uri": registry.store.uri(config_digest)},
            "seeds": {
                "split": cfg.split.seed,
                "model": cfg.model.seed,
                "bootstrap": cfg.evaluation.bootstrap.seed,
            },
            "code": code_version().as_dict(),
            "pipeline_run": run,
            # the digest of the compiled pipeline this run executed (empty: not run by a pipeline)
            "pipeline_spec": {"sha256": parse_digest(pipeline_spec) if pipeline_spec else None},
            "component_image": image,
        },
    }
    if change is not None:
        fields["status"] = change["outcome"] if gate["passed"] else "gate_failed"
        fields["pccp"] = {
            "plan": change["plan"]["record"],
            "outcome": change["outcome"],
            "modification": change["modification"],
            "reasons": change["reasons"],
            "checks": change["checks"],
            "change_record": artifacts["change_record"],
        }
    entry = governed.register_model(cfg.name, fields, trained_by=trained_by, run=run)
    atomic_write_bytes(record.path, canonical_json(entry.document))
    _record(record, id=entry.id, status=entry.status)
    from samdops.package.run_card import card_markdown

    card = card_markdown(governed, entry.id, cfg, report, {"train": train.path, "test": test.path})
    markdown = run_summary_markdown(entry.document, report) + (f"\n{card}" if card else "")
    atomic_write_text(summary.path, markdown)
    if change is not None and change["outcome"] != "candidate":
        from samdops.errors import PccpError

        verdict = {
            "rejected": "was rejected under the PCCP",
            "outside-plan": "is outside the PCCP and needs a new regulatory submission",
        }[change["outcome"]]
        raise PccpError(f"{entry.id} {verdict}: {'; '.join(change['reasons'])}")
    if not gate["passed"]:
        failed = [c for c in gate["criteria"] if c["passed"] is False]
        listed = "; ".join(f"{c['criterion']} ({c['group']}: {c['value']})" for c in failed)
        raise GateFailed(
            f"{entry.id} missed {len(failed)} acceptance criterion(s): {listed}; "
            "it is registered with status gate_failed and cannot be released"
        )


def pccp_gate_step(
    config: str,
    plan_id: str,
    state: str,
    model: ArtifactLike,
    train: ArtifactLike,
    test: ArtifactLike,
    evaluation: ArtifactLike,
    change_record: ArtifactLike,
    report: ArtifactLike,
    summary: ArtifactLike,
) -> None:
    """Compare the candidate with the released model and decide under the PCCP in force.

    ``state`` is the state location holding the plan and the released model, as for
    :func:`register_step`.
    """
    import pandas as pd

    from samdops.atomic import atomic_write_bytes, atomic_write_text
    from samdops.digest import canonical_json
    from samdops.governance.service import GovernedRegistry
    from samdops.pccp.gate import decide
    from samdops.pccp.plans import plan_in_force, released_model
    from samdops.pccp.report import change_html, change_markdown
    from samdops.training.models import load_model

    cfg = TrainingConfig.from_json(config)
    governed = GovernedRegistry(state or None)
    plan, plan_record = plan_in_force(governed, plan_id)
    released, released_config, released_file = released_model(governed, plan.model)
    name, purpose = cfg.name, Purpose.EVALUATE
    test_path = read_data(test, "test set", dataset=f"{name}/test", purpose=purpose)
    try:
        registered_at = governed.registry.test_set(str(test.metadata["sha256"]))["registered_at"]
    except SamdopsError:
        registered_at = None
    candidate = load_model(_verified(model, "model"))
    decision = decide(
        plan,
        released_config=released_config,
        released_model=released_file,
        candidate_config=cfg,
        candidate_model=candidate,
        train=pd.read_parquet(
            read_data(train, "training set", dataset=f"{name}/train", purpose=purpose)
        ),
        test=pd.read_parquet(test_path),
        evaluation=json.loads(Path(_verified(evaluation, "evaluation report")).read_bytes()),
        test_registered_at=registered_at,
        trained_at=str(model.metadata.get("trained_at", "")),
    )
    document = {
        "schema": "samdops.change-record/v1",
        "plan": {
            "id": plan.id,
            "version": plan.version,
            "record": plan_record.record.id,
            "record_sha256": plan_record.history.record_sha256,
        },
        "released": {"id": released.record.id, "model_sha256": released.record.model_sha256},
        "candidate": {"model_sha256": candidate.sha256, "config": cfg.model_dump(mode="json")},
        "modification": decision.modification,
        "outcome": decision.outcome,
        "reasons": decision.reasons,
        "checks": [c.as_dict() for c in decision.checks],
    }
    atomic_write_bytes(change_record.path, canonical_json(document))
    _record(change_record, outcome=decision.outcome)
    atomic_write_text(report.path, change_html(document))
    atomic_write_text(summary.path, change_markdown(document))
