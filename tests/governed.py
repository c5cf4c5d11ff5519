"""A governed registry staffed with users of every role, and the fields of a model record."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from samdops.digest import sha256_bytes
from samdops.governance.identity import UserKind
from samdops.governance.roles import Role
from samdops.governance.service import GovernedRegistry

PASSWORDS = {
    "admin": "admin-password-1",
    "eve": "engineer-password",
    "quinn": "reviewer-password",
    "rita": "reviewer2-password",
    "max": "release-password1",
    "mia": "release2-password",
    "pipe": "service-password1",
}
ROLES = {
    "eve": {Role.ML_ENGINEER},
    "quinn": {Role.QA_REVIEWER},
    "rita": {Role.QA_REVIEWER, Role.RELEASE_MANAGER},
    "max": {Role.RELEASE_MANAGER},
    "mia": {Role.RELEASE_MANAGER, Role.ML_ENGINEER},
    "pipe": {Role.PIPELINE},
}


# The bytes of the model file the records of model_fields name: a release signs them, so
# staffed_registry puts them into the store.
MODEL_BYTES = b'{"format": "a test model"}'


def model_fields(gate_passed: bool = True) -> dict[str, Any]:
    """The fields of a registered model record whose gate passed or failed."""
    return {
        "status": "registered" if gate_passed else "gate_failed",
        "model": {"sha256": sha256_bytes(MODEL_BYTES)},
        "gate": {"passed": gate_passed, "criteria": []},
        "metrics": {"auroc": {"point": 0.87}},
    }


def staffed_registry(home: Path, roles: Mapping[str, set[Role]] = ROLES) -> GovernedRegistry:
    """A registry at ``home`` whose users hold ``roles``, each with the password in PASSWORDS."""
    registry = GovernedRegistry(home, sinks=[])
    registry.registry.store.put_bytes(MODEL_BYTES)
    users = registry.users
    users.bootstrap_admin("admin", "Ada Admin", PASSWORDS["admin"])
    admin = users.authenticate("admin", PASSWORDS["admin"])
    for user_id, granted in roles.items():
        kind = UserKind.SERVICE if Role.PIPELINE in granted else UserKind.PERSON
        users.add(
            admin,
            user_id,
            f"{user_id.title()} Person",
            granted,
            kind=kind,
            temporary_password="temporary-password",
        )
        users.change_password(user_id, "temporary-password", PASSWORDS[user_id])
    return registry
