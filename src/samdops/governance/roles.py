"""Roles and the least-privilege permission matrix (AC-02, AC-03).

Reads are permissions too: a person reads registry records, patient data, the audit trail or a
package only through a role that grants it (issue 18). The checks sit where a person asks (the
CLI and :class:`~samdops.governance.service.GovernedRegistry`'s read methods for people), not in
the reads the system makes for itself (a pipeline step, the serving gate).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from samdops.errors import AccessDenied


class Role(enum.StrEnum):
    DATA_STEWARD = "data-steward"
    ML_ENGINEER = "ml-engineer"
    QA_REVIEWER = "qa-reviewer"
    RELEASE_MANAGER = "release-manager"
    AUDITOR = "auditor"
    PIPELINE = "pipeline"  # the pipeline service account
    DRIFT_MONITOR = "drift-monitor"  # the monitoring pipeline's service identity
    USER_ADMIN = "user-admin"


class Permission(enum.StrEnum):
    # -- reads (issue 18): who may see what -----------------------------------------------------
    # Registry records hold digests, metrics and signatures, no patient rows: every role that
    # works on models; not user-admin, who manages accounts and sees nothing clinical.
    READ_REGISTRY = "read-registry"
    # Patient data (datasets, monitoring windows, prediction logs, label feeds): only the roles
    # that handle rows to do their job (curate, train, run the steps, monitor); reviewers,
    # release managers and auditors judge evidence by digest and report, never by row.
    READ_DATA = "read-data"
    # The audit trail (who did what, no patient rows): QA checks a model's history before a
    # review, the auditor examines everything.
    READ_AUDIT = "read-audit"
    # Exporting the audit trail out of the state location (a report with proofs): the auditor.
    EXPORT_AUDIT = "export-audit"
    # A model package carries data snapshots (patient data) and leaves the system: only the
    # release manager, who assembles the release's submission.
    EXPORT_PACKAGE = "export-package"
    # -- changes -------------------------------------------------------------------------------
    REGISTER_DATA = "register-data"
    REGISTER_MODEL = "register-model"
    REGISTER_PLAN = "register-plan"
    RECORD_GATE = "record-gate"
    SIGN_AUTHORSHIP = "sign-authorship"
    SIGN_REVIEW = "sign-review"
    SIGN_APPROVAL = "sign-approval"
    RELEASE = "release"
    RETIRE = "retire"
    REJECT = "reject"
    MANAGE_USERS = "manage-users"
    RECORD_ALERT = "record-alert"


P = Permission
# Nothing here grants a change to audit data: no role can alter or purge it (AT-06).
MATRIX: Mapping[Role, frozenset[Permission]] = {
    Role.DATA_STEWARD: frozenset({P.READ_REGISTRY, P.READ_DATA, P.REGISTER_DATA}),
    Role.ML_ENGINEER: frozenset(
        {P.READ_REGISTRY, P.READ_DATA, P.REGISTER_MODEL, P.REGISTER_PLAN, P.SIGN_AUTHORSHIP}
    ),
    Role.QA_REVIEWER: frozenset(
        {P.READ_REGISTRY, P.REGISTER_PLAN, P.SIGN_REVIEW, P.REJECT, P.READ_AUDIT}
    ),
    Role.RELEASE_MANAGER: frozenset(
        {P.READ_REGISTRY, P.EXPORT_PACKAGE, P.SIGN_APPROVAL, P.RELEASE, P.RETIRE, P.REJECT}
    ),
    Role.AUDITOR: frozenset({P.READ_REGISTRY, P.READ_AUDIT, P.EXPORT_AUDIT}),
    Role.PIPELINE: frozenset({P.READ_REGISTRY, P.READ_DATA, P.REGISTER_MODEL, P.RECORD_GATE}),
    Role.USER_ADMIN: frozenset({P.MANAGE_USERS}),
    # The monitor reads windows and records alerts, and may start retraining; it can never
    # register or release.
    Role.DRIFT_MONITOR: frozenset({P.READ_REGISTRY, P.READ_DATA, P.RECORD_ALERT}),
}
READS = frozenset({P.READ_REGISTRY, P.READ_DATA, P.READ_AUDIT, P.EXPORT_AUDIT, P.EXPORT_PACKAGE})


def permissions(roles: frozenset[Role]) -> frozenset[Permission]:
    """Every permission the roles grant together."""
    granted: set[Permission] = set()
    for role in roles:
        granted |= MATRIX[role]
    return frozenset(granted)


def require(user_id: str, roles: frozenset[Role], permission: Permission) -> None:
    """Raise :class:`AccessDenied` unless one of ``roles`` grants ``permission`` (AC-03)."""
    if permission not in permissions(roles):
        held = ", ".join(sorted(r.value for r in roles)) or "none"
        raise AccessDenied(
            f"user {user_id!r} (roles: {held}) may not {permission.value}; "
            f"ask a user whose role grants it"
        )
