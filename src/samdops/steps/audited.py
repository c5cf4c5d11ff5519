"""The audit trail of one pipeline step: its start, its end, and the patient data it read.

:func:`samdops.steps.training.run_step` runs every component's step through
:func:`audited_call`, which appends to the audit log of the run's state location, as the
pipeline service account:

1. ``step_start`` with the digests recorded with its input artifacts, the image and the run;
   it is checkpointed before the step runs, so a step killed midway leaves a signed start;
2. the step, which calls :func:`read_data` for each read of patient data (one ``read`` event
   each: digest, rows, purpose);
3. the reads, the Vault secrets read while the step ran (``secret_read``, with the request id of
   Vault's own audit entry) and ``step_end`` (the digests the step recorded with its outputs,
   or the class of its error), under one checkpoint, before the step returns: nothing reports
   success before its events are durable (AT-11).

Fail closed: if an event cannot be appended the step fails (at the start, before it runs). The
two checkpoints keep each ``covered()`` window short (no step body inside one), so a concurrent
writer's recovery, or the registry the register step opens, does not find this step's entries
uncovered for the length of the step and record them as an interrupted writer's.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from samdops import settings
from samdops.audit.activity import Purpose, data_read, secret_read, step_ended, step_started
from samdops.audit.event import Actor, AuthMethod, EventDraft, Source, SourceKind
from samdops.audit.log import AuditLog
from samdops.digest import parse_digest, sha256_file
from samdops.errors import VerificationError
from samdops.secrets import ReadJournal, recording
from samdops.steps.artifacts import ArtifactLike, verified

R = TypeVar("R")
IN_PROCESS_IMAGE = "in-process (no image)"


@dataclass(frozen=True)
class StepRun:
    """Where a step's events go and what they name: the state location (empty:
    ``$SAMDOPS_STATE``, else the home), the pipeline run and the image the step runs in."""

    state: str
    run: str
    image: str

    @classmethod
    def of_component(cls, state: str, run: str, image: str) -> StepRun:
        """A component's step: ``image`` is what the component names (its ``base_image``). In
        its container that is where the step runs; a kfp.local subprocess runs on the host,
        which the event says rather than claim the image."""
        if settings.built_in_image():
            return cls(state, run, image)
        return cls(state, run, f"subprocess (no image; the component names {image})")


def open_step_log(state: str) -> AuditLog:
    """The audit log of ``state`` opened as the registry opens it (entry store, signer, SIEM
    sinks), for a local directory and for ``s3://`` alike."""
    from samdops.governance.service import GovernedRegistry

    return GovernedRegistry(state or None).audit


def pipeline_actor() -> Actor:
    """The pipeline service account, the actor of every step event."""
    from samdops.governance.service import PIPELINE_ACTOR

    return Actor(PIPELINE_ACTOR, AuthMethod.SERVICE_ACCOUNT_TOKEN)


@dataclass
class StepTrail:
    """The audit trail of the running step: its log, run, actor, and the reads it made."""

    log: AuditLog
    where: StepRun
    actor: Actor
    reads: list[EventDraft] = field(default_factory=list)
    secrets: ReadJournal = field(default_factory=ReadJournal)

    @property
    def source(self) -> Source:
        return Source(SourceKind.PIPELINE_RUN, self.where.run or "unknown")

    def read(self, dataset: str, digest: str, *, rows: int, purpose: Purpose) -> None:
        """Note that the step read ``rows`` rows of ``dataset`` (``digest``) for ``purpose``;
        appended with the step's end, before the step returns."""
        self.reads.append(
            data_read(self.actor, dataset, digest, rows=rows, purpose=purpose, source=self.source)
        )


_current: contextvars.ContextVar[StepTrail | None] = contextvars.ContextVar(
    "samdops_step_trail", default=None
)


def current_trail() -> StepTrail | None:
    """The trail of the step running in this context (``None`` outside :func:`audited_call`,
    e.g. a step function a test calls directly)."""
    return _current.get()


def read_data(artifact: ArtifactLike, what: str, *, dataset: str, purpose: Purpose) -> str:
    """The path of a patient-data artifact, verified against its digest, its read noted on the
    running step's trail (digest, rows recorded with it, ``purpose``)."""
    path = verified(artifact, what)
    trail = current_trail()
    if trail is not None:
        digest = parse_digest(str(artifact.metadata["sha256"]))
        trail.read(dataset, digest, rows=_rows(artifact), purpose=purpose)
    return path


def note_read(dataset: str, digest: str, *, rows: int, purpose: Purpose) -> None:
    """Note a read the step made of data that is not an artifact yet (the raw source)."""
    trail = current_trail()
    if trail is not None:
        trail.read(dataset, digest, rows=rows, purpose=purpose)


def function_name(step: Callable[..., object]) -> str:
    """The name of the step function (through ``functools.partial`` and decorators)."""
    while isinstance(step, functools.partial):
        step = step.func
    step = inspect.unwrap(step)
    return str(getattr(step, "__name__", type(step).__name__))


def audited_call(
    step: Callable[..., R],
    where: StepRun,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    *,
    log: AuditLog | None = None,
) -> R:
    """Run ``step(*args, **kwargs)`` between its ``step_start`` and ``step_end`` events (the
    step named as its KFP task: ``ingest_step`` is ``ingest``, ``record_alerts_step``
    ``record-alerts``); ``log`` defaults to the audit log of ``where.state``."""
    name = function_name(step).removesuffix("_step").replace("_", "-")
    artifacts = _artifacts(step, args, kwargs)
    with recording() as secrets:  # the Vault reads of the step, opening its log included
        return _run_audited(step, name, where, args, kwargs, log, artifacts, secrets)


def _run_audited(
    step: Callable[..., R],
    name: str,
    where: StepRun,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    log: AuditLog | None,
    artifacts: Mapping[str, ArtifactLike],
    secrets: ReadJournal,
) -> R:
    before = {key: _recorded(a) for key, a in artifacts.items()}
    inputs = {key: _input_digest(a, before[key]) for key, a in artifacts.items()}
    inputs = {key: digest for key, digest in inputs.items() if digest}
    log = log if log is not None else open_step_log(where.state)
    trail = StepTrail(log, where, pipeline_actor(), secrets=secrets)
    run = where.run or "unknown"
    log.append(step_started(trail.actor, name, run, image=where.image, inputs=inputs))
    token = _current.set(trail)
    try:
        result = step(*args, **kwargs)
    except BaseException as exc:
        _current.reset(token)
        try:
            _end(trail, name, inputs, {}, exc)
        except Exception as failure:
            exc.add_note(f"and its step_end audit event could not be written: {failure}")
        raise
    _current.reset(token)
    outputs = {
        key: digest
        for key, a in artifacts.items()
        if (digest := _recorded(a)) and digest != before[key]
    }
    _end(trail, name, inputs, outputs, None)
    return result


def _end(
    trail: StepTrail,
    name: str,
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    error: BaseException | None,
) -> None:
    """The step's reads, its secret reads and its ``step_end``, under one checkpoint."""
    run = trail.where.run or "unknown"
    with trail.log.covered():
        for draft in trail.reads:
            trail.log.append(draft)
        for read in trail.secrets.take():
            trail.log.append(
                secret_read(
                    read.component,
                    read.path,
                    source=trail.source,
                    vault_request_id=read.request_id,
                )
            )
        trail.log.append(
            step_ended(
                trail.actor,
                name,
                run,
                image=trail.where.image,
                inputs=inputs,
                outputs=outputs,
                error=error,
            )
        )


def _artifacts(
    step: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> dict[str, ArtifactLike]:
    """The step's artifact arguments by parameter name."""
    try:
        bound: Mapping[str, Any] = inspect.signature(step).bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):
        bound = {**{f"arg{i}": a for i, a in enumerate(args)}, **kwargs}
    return {
        key: value
        for key, value in bound.items()
        if hasattr(value, "path") and isinstance(getattr(value, "metadata", None), dict)
    }


def _recorded(artifact: ArtifactLike) -> str:
    """The valid sha256 recorded with ``artifact``, else ``""``."""
    try:
        return parse_digest(str(artifact.metadata.get("sha256") or ""))
    except VerificationError:
        return ""


def _input_digest(artifact: ArtifactLike, recorded: str) -> str:
    """An input's recorded digest; for an input that carries the key without a valid digest
    (data imported without an expected sha256), the digest of its bytes; ``""`` for an output
    (no digest key yet)."""
    if recorded or "sha256" not in artifact.metadata:
        return recorded
    with contextlib.suppress(OSError):
        if Path(artifact.path).is_file():
            return sha256_file(artifact.path)
    return ""


def _rows(artifact: ArtifactLike) -> int:
    """The rows recorded with ``artifact`` (kfp hands integers back as floats), else counted
    from its Parquet footer."""
    rows = artifact.metadata.get("rows")
    if rows is not None:
        return int(rows)
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(artifact.path).metadata.num_rows)
