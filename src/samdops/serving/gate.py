"""The gate a model passes before it is served: released, signed, verified, by its digest.

:func:`load_released` is run at start, and again by the server's watcher for each newly
released version. Each refusal is one line saying what failed and how to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from samdops.errors import AuditError, RegistryError, ServingRefused, StoreError, VerificationError
from samdops.governance.lifecycle import State
from samdops.governance.model_signature import ModelSignature, verify_model_bytes
from samdops.governance.service import GovernedModel, GovernedRegistry
from samdops.monitoring.registered_model import load_registered_model
from samdops.monitoring.scoring import MonitoredModel

_HEX = re.compile(r"^[0-9a-f]{64}$")
# what a damaged log, record, signature or store raises: the model is then not served
_UNSERVABLE = (AuditError, RegistryError, StoreError, VerificationError)


@dataclass(frozen=True)
class ServedModel:
    """A released model that passed the gate: what answers requests, and what records name."""

    ref: str  # name@version
    name: str
    version: int
    model_sha256: str
    model: MonitoredModel


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``NAME@VERSION`` -> (name, version); ``NAME`` -> (name, None): follow the newest
    released version."""
    name, sep, version = ref.partition("@")
    if not name or (sep and not version.isdigit()):
        raise ServingRefused(
            f"model reference {ref[:80]!r} is not NAME or NAME@VERSION (e.g. sepsis-risk@1)"
        )
    return name, int(version) if sep else None


def check_sha256(value: str) -> str:
    """``value`` as 64 lowercase hex digits (a ``sha256:`` prefix is accepted)."""
    hexdigest = value.removeprefix("sha256:")
    if not _HEX.match(hexdigest):
        raise ServingRefused(f"--sha256 must be 64 hex digits, not {value[:80]!r}")
    return hexdigest


def newest_released(governed: GovernedRegistry, name: str) -> GovernedModel:
    """The released version of ``name`` with the highest version number."""
    versions = [
        model
        for model in governed.models()
        if model.record.name == name and model.state == State.RELEASED
    ]
    if not versions:
        known = sorted({m.record.name for m in governed.models()})
        raise ServingRefused(
            f"no version of {name!r} is released, so none is served; release one with "
            f"`samdops promote {name}@VERSION --to released` (registered models: "
            f"{', '.join(known) or 'none'})"
        )
    return max(versions, key=lambda m: m.record.version)


def load_released(
    governed: GovernedRegistry, ref: str, *, expect_sha256: str | None = None
) -> ServedModel:
    """The model ``ref`` if it may be served; else raise :class:`ServingRefused`.

    1. The audit log verifies (its chain and signed checkpoints).
    2. The record matches its audit event and every e-signature verifies (the governed
       registry checks both); the state the log gives it is ``released``.
    3. The model file is read from the state location by its digest (the store re-hashes it),
       and equals ``expect_sha256`` when given (the digest a deployment pins).
    4. The model-signing signature that the release made verifies over those bytes.
    5. The config and the validated baseline load as the monitor loads them.
    """
    name, version = parse_ref(ref)
    try:
        governed.audit.verify(governed.audit_key.public_key_pem())
        model = newest_released(governed, name) if version is None else governed.get(ref)
    except _UNSERVABLE as exc:
        raise ServingRefused(f"{ref} is not served: {exc}") from None
    record = model.record
    if model.state != State.RELEASED:
        raise ServingRefused(
            f"{record.id} is {model.state.value}, not released: only a released model is served"
        )
    digest = record.model_sha256.removeprefix("sha256:")
    if expect_sha256 is not None and digest != check_sha256(expect_sha256):
        raise ServingRefused(
            f"{record.id} has model sha256 {digest}, not the pinned {expect_sha256}: "
            "pin the digest that `samdops registry show` gives"
        )
    signature = ModelSignature.from_details(model.history.release_details)
    if signature is None:
        raise ServingRefused(
            f"{record.id} was released without a model-signing signature; release it again "
            "with this version of samdops (retire it, then register and release a new version)"
        )
    try:
        model_bytes = governed.registry.store.get_bytes(record.model_sha256)
        verify_model_bytes(governed.state, model_bytes, signature)
        monitored = load_registered_model(governed, record.id)
    except _UNSERVABLE as exc:
        raise ServingRefused(f"{record.id} is not served: {exc}") from None
    return ServedModel(record.id, record.name, record.version, record.model_sha256, monitored)


def retirement_reason(governed: GovernedRegistry, served: ServedModel) -> str | None:
    """Why ``served`` may no longer answer (it left ``released``), or ``None``."""
    model = governed.get(served.ref)
    if model.state == State.RELEASED:
        return None
    last = governed.audit.record(model.history.events[-1]).event
    why = last.detail_map().get("why", model.state.value)
    return f"{served.ref} is {model.state.value} ({why}); it is no longer served"
