"""A registered model, for the monitor: model bytes from the artifact store, verified."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from samdops.config import TrainingConfig
from samdops.errors import RegistryError, StoreError, VerificationError
from samdops.governance.records import Registry, RegistryRecord
from samdops.monitoring.scoring import MonitoredModel, ValidatedBaseline
from samdops.store import ArtifactStore
from samdops.training.models import MODEL_FORMAT, ModelFile

if TYPE_CHECKING:
    from samdops.governance.service import GovernedRegistry

_REFUSED_STATUSES = ("gate_failed", "rejected", "outside-plan")


def load_registered_model(registry: Registry | GovernedRegistry, ref: str) -> MonitoredModel:
    """The model registered as ``ref``, with its config and the baseline it was validated at.

    ``ref`` is what ``samdops registry show`` accepts: ``NAME@VERSION`` (``sepsis-risk@3``),
    ``NAME`` (its latest version) or ``latest`` (the newest registration of any model).

    1. Find the record (a :class:`GovernedRegistry` first verifies it against its audit event).
    2. Refuse a model that missed its acceptance gate or was rejected under a PCCP.
    3. Read the resolved config by its digest: it names the feature transform (or none) and
       the label.
    4. Read the model file by its digest (the store re-hashes the bytes) and check that it is
       the config's model family on exactly the config's model inputs.
    5. Read the evaluation report by its digest: it must be the report of this model file.
    6. The baseline: AUROC, calibration slope and intercept, alert rate and PPV from the record's
       metrics (held-out test set), the threshold from the config, the size from the report.
    """
    record, store = _find(registry, ref)
    document = record.document
    if document.get("status") in _REFUSED_STATUSES or not document["gate"]["passed"]:
        raise RegistryError(
            f"{record.id} has status {document.get('status')}: a model that missed its "
            "acceptance gate or was rejected is not monitored; give a registered model's id"
        )
    config = TrainingConfig.from_json(
        _read(store, document["lineage"]["config"]["sha256"], record, "config").decode("utf-8")
    )
    model = _model_file(_read(store, record.model_sha256, record, "model file"), record, config)
    evaluation = json.loads(_read(store, _artifact(record, "evaluation"), record, "evaluation"))
    if evaluation.get("model_sha256") != record.model_sha256:
        raise VerificationError(
            f"the evaluation report of {record.id} is for model {evaluation.get('model_sha256')}, "
            f"not for its model {record.model_sha256}"
        )
    metrics = document["metrics"]
    baseline = ValidatedBaseline(
        auroc=_point(metrics, "auroc", record),
        calibration_slope=_point(metrics, "calibration_slope", record),
        calibration_intercept=_point(metrics, "calibration_intercept", record),
        alert_rate=_point(metrics, "alert_rate", record),
        threshold=config.evaluation.threshold,
        n_validation_rows=int(evaluation["overall"]["size"]),
        ppv=_point(metrics, "ppv", record, required=False),
    )
    return MonitoredModel(model=model, baseline=baseline, config=config)


def _find(registry: Registry | GovernedRegistry, ref: str) -> tuple[RegistryRecord, ArtifactStore]:
    if isinstance(registry, Registry):
        return registry.get(ref), registry.store
    return registry.get(ref).record, registry.registry.store


def _artifact(record: RegistryRecord, name: str) -> str:
    try:
        return str(record.document["artifacts"][name]["sha256"])
    except (KeyError, TypeError):
        raise RegistryError(f"{record.id} records no {name} artifact") from None


def _read(store: ArtifactStore, digest: str, record: RegistryRecord, what: str) -> bytes:
    try:
        return store.get_bytes(digest)  # raises DigestMismatch when the bytes changed
    except StoreError as exc:
        raise StoreError(f"cannot read the {what} of {record.id}: {exc}") from None


def _model_file(data: bytes, record: RegistryRecord, config: TrainingConfig) -> ModelFile:
    document = json.loads(data)
    if not isinstance(document, dict) or document.get("format") != MODEL_FORMAT:
        raise VerificationError(f"the model of {record.id} is not a {MODEL_FORMAT} model file")
    model = ModelFile(document)
    expected = config.model_features
    if model.family != config.model.family or model.features != expected:
        raise VerificationError(
            f"the model of {record.id} is a {model.family} model on {len(model.features)} "
            f"inputs, not the {config.model.family} model on the {len(expected)} inputs its "
            "config names"
        )
    return model


def _point(
    metrics: dict[str, Any], name: str, record: RegistryRecord, required: bool = True
) -> Any:
    value = (metrics.get(name) or {}).get("point")
    if value is None and required:
        raise RegistryError(
            f"{record.id} records no {name}; the monitor's baseline needs auroc, "
            "calibration_slope, calibration_intercept, alert_rate and ppv in evaluation.metrics "
            "(as configs/pima.yaml and configs/sepsis.yaml list them): retrain it with such a "
            "config"
        )
    return None if value is None else float(value)
