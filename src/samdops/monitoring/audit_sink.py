"""Alerts as audit entries: each alert is one governed audit event, and so one SIEM event.

The event goes through the same audit log as registrations and signatures (the governed
registry's: ``audit/`` at the state location, SIEM sinks from ``$SAMDOPS_SIEM``), is
made by the monitor's service identity, whose role may record alerts and nothing that changes a
model, and is followed by a signed checkpoint. Fail closed: if the entry cannot be written the
step fails, so an alert is never silently lost.
"""

from __future__ import annotations

import re
from pathlib import Path

from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Source, SourceKind, Target
from samdops.audit.log import AuditLog
from samdops.drift.alerts import Alert
from samdops.errors import AuditError
from samdops.governance.roles import Permission, Role, require

DRIFT_MONITOR_ACTOR = "svc:samdops-drift-monitor"
ALERT_KIND = "drift-alert"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_MAX = 4000
_CEF_SEVERITY = {"critical": "8", "warning": "6", "info": "3"}


def alert_target(alert: Alert) -> Target:
    """``drift-alert:<model>@<window>.<kind>`` (spaces in the window become ``_``)."""
    window = re.sub(r"[\s@]+", "_", alert.window.strip()) or "window"
    return Target(f"{ALERT_KIND}:{alert.model or 'unscored'}", f"{window}.{alert.kind}")


def alert_draft(alert: Alert, run: str) -> EventDraft:
    """The audit event of ``alert``: who (the monitor), what, and the evidence it rests on."""
    summary = f"{alert.severity} {alert.kind} in window {alert.window}: " + "; ".join(
        alert.evidence
    )
    details = {
        "kind": ALERT_KIND,
        "alert_kind": alert.kind,
        "severity": alert.severity,
        "cef_severity": _CEF_SEVERITY[alert.severity],
        "window": alert.window or "-",
        "features": ", ".join(alert.features) or "-",
        "evidence": "; ".join(alert.evidence)[:_MAX] or "-",
        "model": alert.model or "unscored",
        "findings_sha256": alert.findings_sha256 or "-",
        "retraining": alert.retraining,
        "message": summary[:_MAX],
    }
    return EventDraft(
        actor=Actor(DRIFT_MONITOR_ACTOR, AuthMethod.SERVICE_ACCOUNT_TOKEN),
        action=Action.CREATE,
        target=alert_target(alert),
        source=Source(SourceKind.PIPELINE_RUN, run or "unknown"),
        new_hash=alert.findings_sha256 if _DIGEST.match(alert.findings_sha256) else None,
        details=details,
    )


class AuditAlertSink:
    """Appends each alert to the audit log (which fans it out to the SIEM) and checkpoints."""

    def __init__(self, audit: AuditLog, run: str) -> None:
        self.audit = audit
        self.run = run

    @classmethod
    def for_state(cls, state: str | Path | None, run: str) -> AuditAlertSink:
        """The sink on the governed registry's audit log at ``state`` (SIEM from the env)."""
        from samdops.governance.service import GovernedRegistry

        return cls(GovernedRegistry(state or None).audit, run)

    def emit(self, alert: Alert) -> None:
        require(DRIFT_MONITOR_ACTOR, frozenset({Role.DRIFT_MONITOR}), Permission.RECORD_ALERT)
        if self.audit.signer is None:
            raise AuditError("the alert audit log has no signer, so no checkpoint would cover it")
        self.audit.recover()
        self.audit.append(alert_draft(alert, self.run))  # covered by a checkpoint when it returns
