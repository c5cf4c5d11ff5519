"""PCCPs in the governed registry: registered as versioned records, in force once signed."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Source, SourceKind
from samdops.audit.event import Target as AuditTarget
from samdops.config import TrainingConfig
from samdops.errors import PccpError
from samdops.governance.lifecycle import PLAN_KIND, State
from samdops.governance.records import RegistryRecord
from samdops.governance.roles import Permission, require
from samdops.governance.service import SYSTEM_ACTOR, GovernedModel, GovernedRegistry
from samdops.governance.signatures import record_digest
from samdops.pccp.plan import Plan, load_plan, parse_plan
from samdops.training.models import ModelFile

IN_FORCE = (State.APPROVED, State.RELEASED)


def register_plan(
    registry: GovernedRegistry, path: str | Path, user_id: str, password: str
) -> GovernedModel:
    """Validate the plan at ``path`` and register it as the next version of ``pccp-<id>``."""
    plan = load_plan(path)
    raw = Path(path).read_bytes()
    target = AuditTarget(plan.record_name, str(plan.version))
    who = registry._authenticate(user_id, password, target, "pccp register")
    require(who.user.id, who.user.roles, Permission.REGISTER_PLAN)
    existing = [m for m in _plans(registry) if m.record.name == plan.record_name]
    expected = max((m.record.version for m in existing), default=0) + 1
    if plan.version != expected:
        raise PccpError(
            f"{path} declares version {plan.version} of PCCP {plan.id}, but the next version "
            f"is {expected}; a registered plan is never replaced, only superseded"
        )
    digest = registry.registry.store.put_bytes(raw)
    fields = {
        "status": "registered",
        "kind": "pccp",
        "plan": plan.model_dump(mode="json"),
        "model": {"sha256": digest, "family": "pccp", "uri": registry.registry.store.uri(digest)},
        "gate": {"passed": True, "criteria": []},
        "metrics": {},
        "trained_by": who.user.id,
    }
    source = Source(SourceKind.CLI, "pccp register")

    def created(record: RegistryRecord) -> EventDraft:
        return EventDraft(
            actor=Actor(who.user.id, AuthMethod.PASSWORD),
            action=Action.CREATE,
            target=AuditTarget(record.name, str(record.version)),
            source=source,
            new_hash=record_digest(record.document),
            details={"kind": PLAN_KIND, "gate": "passed", "trained_by": who.user.id},
        )

    with registry.changing():
        record = registry.claim(plan.record_name, fields, created)
        registry.validate_once(
            record.id,
            EventDraft(
                actor=Actor(SYSTEM_ACTOR, AuthMethod.SERVICE_ACCOUNT_TOKEN),
                action=Action.STATE_CHANGE,
                target=AuditTarget(record.name, str(record.version)),
                source=source,
                details={"from": "registered", "to": "validated", "why": "plan schema validated"},
            ),
        )
    return registry.get(record.id)


def _plans(registry: GovernedRegistry) -> list[GovernedModel]:
    return [m for m in registry.models() if m.history.kind == PLAN_KIND]


def plan_in_force(registry: GovernedRegistry, plan_id: str) -> tuple[Plan, GovernedModel]:
    """The newest version of PCCP ``plan_id``, verified, signed and approved; else raise."""
    versions = [m for m in _plans(registry) if m.record.name == f"pccp-{plan_id}"]
    if not versions:
        raise PccpError(
            f"no PCCP {plan_id!r} is registered; register it with `samdops pccp register FILE`"
        )
    latest = max(versions, key=lambda m: m.record.version)
    if latest.state not in IN_FORCE:
        signed = ", ".join(s.meaning.value for s in latest.history.signatures) or "none"
        raise PccpError(
            f"PCCP {plan_id} v{latest.record.version} is {latest.state.value} (signatures: "
            f"{signed}); it is in force only after review and approval signatures"
        )
    plan = parse_plan(latest.record.document["plan"], latest.record.id)
    stored = registry.registry.store.get_bytes(latest.record.model_sha256)  # verified bytes
    if parse_plan(yaml.safe_load(stored), latest.record.id) != plan:
        raise PccpError(f"{latest.record.id}: the stored plan file differs from the record")
    return plan, latest


def released_model(
    registry: GovernedRegistry, name: str
) -> tuple[GovernedModel, TrainingConfig, ModelFile]:
    """The newest released version of model ``name``, its resolved config and its model file."""
    released = [
        m
        for m in registry.models()
        if m.history.kind != PLAN_KIND and m.record.name == name and m.state == State.RELEASED
    ]
    if not released:
        raise PccpError(
            f"no released version of {name} to compare the candidate with; release one first"
        )
    latest = max(released, key=lambda m: m.record.version)
    store = registry.registry.store
    config_digest = latest.record.document["lineage"]["config"]["sha256"]
    config = TrainingConfig.from_json(store.get_bytes(config_digest).decode("utf-8"))
    model = ModelFile(json.loads(store.get_bytes(latest.record.model_sha256)))
    return latest, config, model
