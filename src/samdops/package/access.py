"""The audit events of taking a model package: who exported which package, and which patient data
an export or a reproduction read.

A package is named by its digest, the sha256 of its ``manifest.json`` (which lists the sha256 of
every other file and is signed). An export is one ``export`` event by the person on
``package/<model>@<package digest>``; each dataset the package carries (the train and test
snapshots; none with ``--no-data``) is one ``read`` with purpose *export*; a reproduction reads
the training snapshot (purpose *reproduce*). A command's events are appended under one
checkpoint before it reports success, and the command fails closed if they cannot be.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from samdops.audit.activity import Purpose, data_read
from samdops.audit.event import Action, Actor, EventDraft, Source, SourceKind, Target
from samdops.audit.log import AuditLog

EXPORT_SOURCE = Source(SourceKind.CLI, "samdops package export")
REPRODUCE_SOURCE = Source(SourceKind.CLI, "samdops reproduce")


@dataclass(frozen=True)
class DatasetRead:
    """One packaged dataset: its role (train, test), bytes and rows."""

    role: str
    sha256: str
    rows: int


def dataset_name(model_id: str, role: str) -> str:
    """``<model name>/<role>``: the dataset a model was trained (``train``) or tested on."""
    return f"{model_id.rpartition('@')[0] or model_id}/{role}"


def package_target(model_id: str, package_sha256: str) -> Target:
    """``package/<name@version>@<package digest>`` (never the model's own target)."""
    return Target(f"package/{model_id}", package_sha256)


def export_event(
    actor: Actor,
    model_id: str,
    *,
    model_sha256: str,
    package_sha256: str,
    package_id: str,
    data: Iterable[DatasetRead],
) -> EventDraft:
    """``actor`` exported the package ``package_sha256`` of ``model_id`` carrying ``data``."""
    carried = ",".join(f"{d.role}={d.sha256}" for d in data) or "none"
    return EventDraft(
        actor=actor,
        action=Action.EXPORT,
        target=package_target(model_id, package_sha256),
        source=EXPORT_SOURCE,
        new_hash=package_sha256,
        details={
            "model": model_id,
            "model_sha256": model_sha256,
            "package_id": package_id,
            "package_sha256": package_sha256,
            "datasets": carried,
        },
    )


def record_export(
    audit: AuditLog,
    actor: Actor,
    model_id: str,
    *,
    model_sha256: str,
    package_sha256: str,
    package_id: str,
    data: tuple[DatasetRead, ...],
) -> None:
    """Append the export and a read per carried dataset, under one checkpoint (fail closed)."""
    audit.recover()
    with audit.covered():
        for d in data:
            audit.append(_read(actor, model_id, d, Purpose.EXPORT, EXPORT_SOURCE))
        audit.append(
            export_event(
                actor,
                model_id,
                model_sha256=model_sha256,
                package_sha256=package_sha256,
                package_id=package_id,
                data=data,
            )
        )


def record_reproduce_read(audit: AuditLog, actor: Actor, model_id: str, data: DatasetRead) -> None:
    """Append the read of the training snapshot by a reproduction (fail closed)."""
    audit.recover()
    with audit.covered():
        audit.append(_read(actor, model_id, data, Purpose.REPRODUCE, REPRODUCE_SOURCE))


def _read(
    actor: Actor, model_id: str, data: DatasetRead, purpose: Purpose, source: Source
) -> EventDraft:
    return data_read(
        actor,
        dataset_name(model_id, data.role),
        data.sha256,
        rows=data.rows,
        purpose=purpose,
        source=source,
        details={"model": model_id, "role": data.role},
    )
