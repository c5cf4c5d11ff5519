"""The events of activity that changes nothing: reads of patient data, queries, pipeline steps,
secret reads (AT-02 kinds *access*, *execution*, *security*).

Every caller builds these drafts here, so one read looks the same wherever it happens::

    log.append(data_read(actor, "pima/test", digest, rows=154, purpose=Purpose.VALIDATE,
                         source=Source(SourceKind.PIPELINE_RUN, run)))

Targets name what was touched: ``dataset/<name>@sha256:<hex>`` for data (the digest is the
version, so "who saw these bytes" is a filter on the target), ``step/<step>@<run>`` for a step,
``secret/<path>@<component>`` for a secret, ``query/<what>@<filters digest>`` for a query.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from samdops.audit.event import (
    Action,
    Actor,
    AuthMethod,
    EventDraft,
    EventKind,
    Outcome,
    Source,
    SourceKind,
    Target,
)
from samdops.digest import canonical_json, sha256_bytes


class Purpose(enum.StrEnum):
    """Why patient data was read."""

    INGEST = "ingest"
    VALIDATE = "validate"
    TRAIN = "train"
    EVALUATE = "evaluate"
    REGISTER = "register"
    MONITOR = "monitor"
    EXPORT = "export"
    REPRODUCE = "reproduce"
    SERVE = "serve"


def data_read(
    actor: Actor,
    dataset: str,
    digest: str,
    *,
    rows: int,
    purpose: Purpose,
    source: Source,
    outcome: Outcome = Outcome.SUCCESS,
    details: Mapping[str, str] | None = None,
) -> EventDraft:
    """``actor`` read ``rows`` rows of ``dataset`` (bytes ``digest``) for ``purpose``."""
    return EventDraft(
        actor=actor,
        action=Action.READ,
        target=Target(f"dataset/{dataset}", digest),
        source=source,
        outcome=outcome,
        new_hash=digest,
        details={**(details or {}), "purpose": Purpose(purpose).value, "rows": str(int(rows))},
    )


def step_started(
    actor: Actor, step: str, run: str, *, image: str, inputs: Mapping[str, str]
) -> EventDraft:
    """Pipeline step ``step`` of ``run`` started in ``image`` with ``inputs`` (name: digest)."""
    return EventDraft(
        actor=actor,
        action=Action.STEP_START,
        target=Target(f"step/{step}", run),
        source=Source(SourceKind.PIPELINE_RUN, run),
        details=_step_details(step, run, image, inputs),
    )


def step_ended(
    actor: Actor,
    step: str,
    run: str,
    *,
    image: str,
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    error: BaseException | None = None,
) -> EventDraft:
    """Pipeline step ``step`` of ``run`` ended: its outputs, or the class of its error."""
    details = {**_step_details(step, run, image, inputs), "outputs": _names(outputs)}
    if error is not None:
        details["error_class"] = type(error).__name__
    return EventDraft(
        actor=actor,
        action=Action.STEP_END,
        target=Target(f"step/{step}", run),
        source=Source(SourceKind.PIPELINE_RUN, run),
        outcome=Outcome.SUCCESS if error is None else Outcome.FAILURE,
        details=details,
    )


def secret_read(
    component: str,
    path: str,
    *,
    source: Source,
    vault_request_id: str,
    outcome: Outcome = Outcome.SUCCESS,
) -> EventDraft:
    """``component`` read the Vault secret at ``path`` (``vault_request_id`` matches the entry
    of Vault's own audit device for the same request)."""
    return EventDraft(
        actor=Actor(f"svc:{component}", AuthMethod.SERVICE_ACCOUNT_TOKEN),
        action=Action.SECRET_READ,
        target=Target(f"secret/{path}", component),
        source=source,
        outcome=outcome,
        details={"component": component, "vault_request_id": vault_request_id},
    )


def query(
    actor: Actor,
    what: str,
    *,
    source: Source,
    filters: Mapping[str, str] | None = None,
    outcome: Outcome = Outcome.SUCCESS,
    results: int | None = None,
    details: Mapping[str, str] | None = None,
) -> EventDraft:
    """``actor`` queried ``what`` (``registry/models``, ``audit/export``, ...) with ``filters``.

    A refused query (``outcome`` denied) is a security event: someone tried to read what their
    role does not grant."""
    filters = dict(filters or {})
    version = sha256_bytes(canonical_json(filters))
    recorded = {**(details or {}), **{f"filter.{k}": v for k, v in filters.items()}}
    if results is not None:
        recorded["results"] = str(results)
    return EventDraft(
        actor=actor,
        action=Action.QUERY,
        target=Target(f"query/{what}", version),
        source=source,
        outcome=outcome,
        details=recorded,
        kind=EventKind.SECURITY if outcome is Outcome.DENIED else None,
    )


def _step_details(step: str, run: str, image: str, inputs: Mapping[str, str]) -> dict[str, str]:
    return {"step": step, "run": run, "image": image, "inputs": _names(inputs)}


def _names(digests: Mapping[str, str]) -> str:
    """``name=sha256:..`` pairs, sorted, one string (details hold strings only)."""
    return canonical_json(dict(sorted(digests.items()))).decode()
