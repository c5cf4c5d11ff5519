"""A pipeline run's whole trace from its audit entries: every step, data read and secret read.

:func:`run_trace` reads the events that :mod:`samdops.audit.activity` builds (``step_start`` /
``step_end`` on ``step/<step>@<run>``, ``read`` on ``dataset/<name>@<digest>``, ``secret_read``
on ``secret/<path>@<component>``) and pairs each step's end with its latest unmatched start, so a
retried step shows twice. Everything else in the run (its launch, registrations) is kept as
``others``. The values are taken as stored; the renderers escape them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace

from samdops.audit.entry import AuditRecord
from samdops.audit.event import Action
from samdops.audit.selection import in_run


@dataclass(frozen=True)
class StepTrace:
    """One execution of a step: start and end, outcome, image and the digests it read and wrote."""

    step: str
    image: str
    inputs: tuple[tuple[str, str], ...]
    outputs: tuple[tuple[str, str], ...] = ()
    started: str | None = None  # time of the start event
    ended: str | None = None
    outcome: str = "running"  # success, failure, or running (no end on the record)
    error_class: str | None = None
    entries: tuple[int, ...] = ()  # the entries it comes from


@dataclass(frozen=True)
class DataRead:
    """A read of patient data."""

    seq: int
    time: str
    actor: str
    dataset: str
    digest: str
    rows: str
    purpose: str
    outcome: str


@dataclass(frozen=True)
class SecretRead:
    """A secret read from Vault, with the request id that Vault's audit device also records."""

    seq: int
    time: str
    component: str
    path: str
    vault_request_id: str
    outcome: str


@dataclass(frozen=True)
class RunTrace:
    """What the audit log holds of one run, in log order."""

    run: str
    steps: tuple[StepTrace, ...]
    data_reads: tuple[DataRead, ...]
    secret_reads: tuple[SecretRead, ...]
    others: tuple[AuditRecord, ...]

    @property
    def empty(self) -> bool:
        return not (self.steps or self.data_reads or self.secret_reads or self.others)


def _digests(text: str | None) -> tuple[tuple[str, str], ...]:
    """``{"name": "sha256:..."}`` as stored by the activity constructors; anything else is kept
    whole under the name ``?`` so that a reader still sees it."""
    if not text:
        return ()
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return tuple(sorted((str(k), v) for k, v in value.items()))
    return (("?", text),)


def run_trace(records: Iterable[AuditRecord], run: str) -> RunTrace:
    """The trace of ``run`` among ``records`` (others' entries are skipped)."""
    steps: list[StepTrace] = []
    open_steps: dict[str, int] = {}  # step -> index in steps of its latest unmatched start
    reads: list[DataRead] = []
    secrets: list[SecretRead] = []
    others: list[AuditRecord] = []
    for record in records:
        event = record.event
        if not in_run(event, run):
            continue
        details = event.detail_map()
        if event.action in (Action.STEP_START, Action.STEP_END):
            name = details.get("step") or event.target.id.removeprefix("step/")
            image, inputs = details.get("image", "-"), _digests(details.get("inputs"))
            if event.action == Action.STEP_START:
                open_steps[name] = len(steps)
                steps.append(
                    StepTrace(name, image, inputs, started=event.time, entries=(record.seq,))
                )
                continue
            index = open_steps.pop(name, None)
            base = steps[index] if index is not None else StepTrace(name, image, inputs)
            ended = replace(
                base,
                outputs=_digests(details.get("outputs")),
                ended=event.time,
                outcome=event.outcome.value,
                error_class=details.get("error_class"),
                entries=(*base.entries, record.seq),
            )
            if index is None:
                steps.append(ended)
            else:
                steps[index] = ended
        elif event.action == Action.READ and event.target.id.startswith("dataset/"):
            reads.append(
                DataRead(
                    record.seq,
                    event.time,
                    event.actor.id,
                    event.target.id.removeprefix("dataset/"),
                    event.target.version,
                    details.get("rows", "-"),
                    details.get("purpose", "-"),
                    event.outcome.value,
                )
            )
        elif event.action == Action.SECRET_READ:
            secrets.append(
                SecretRead(
                    record.seq,
                    event.time,
                    details.get("component", event.target.version),
                    event.target.id.removeprefix("secret/"),
                    details.get("vault_request_id", "-"),
                    event.outcome.value,
                )
            )
        else:
            others.append(record)
    return RunTrace(run, tuple(steps), tuple(reads), tuple(secrets), tuple(others))
