"""Alerts and window reads as audit entries: each is one governed audit event (and SIEM event).

The event goes through the same audit log as registrations and signatures (the governed
registry's: ``audit/`` at the state location, SIEM sinks from ``$SAMDOPS_SIEM``), is
made by the monitor's service identity, whose role may record alerts and nothing that changes a
model, and is followed by a signed checkpoint. Fail closed: if the entry cannot be written the
step fails, so an alert is never silently lost.

Each window the monitor reads (the reference, the current window, the labels that arrived) is a
``read`` of patient data by the same identity (:func:`window_read`), purpose ``monitor``, with
the digest and row count of the table the monitor works on.
"""

from __future__ import annotations

import re
from pathlib import Path

from samdops.audit.activity import Purpose, data_read
from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Source, SourceKind, Target
from samdops.audit.log import AuditLog
from samdops.drift.alerts import Alert
from samdops.errors import AuditError
from samdops.governance.roles import Permission, Role, require
from samdops.monitoring.served_window import LABELS, PREDICTIONS

DRIFT_MONITOR_ACTOR = "svc:samdops-drift-monitor"
ALERT_KIND = "drift-alert"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_MAX = 4000
_CEF_SEVERITY = {"critical": "8", "warning": "6", "info": "3"}


def monitor_actor() -> Actor:
    """The drift monitor's service identity."""
    return Actor(DRIFT_MONITOR_ACTOR, AuthMethod.SERVICE_ACCOUNT_TOKEN)


def window_dataset(role: str, location: str) -> str:
    """What a window read names: ``predictions/NAME`` (the prediction log of model NAME),
    ``labels/NAME`` (its label feed), else ``monitor/<role>`` (a file or object)."""
    for scheme in (PREDICTIONS, LABELS):
        if location.startswith(scheme):
            return f"{scheme.removesuffix('://')}/{location[len(scheme) :]}"
    return f"monitor/{role}"


def window_read(
    actor: Actor,
    role: str,
    location: str,
    window: str,
    digest: str,
    *,
    rows: int,
    source: Source,
    dataset: str = "",
) -> EventDraft:
    """``actor`` read ``rows`` rows (bytes ``digest``) of the ``role`` table (reference, current,
    labels) of ``window`` from ``location``, to monitor it; ``dataset`` defaults to
    :func:`window_dataset`."""
    return data_read(
        actor,
        dataset or window_dataset(role, location),
        digest,
        rows=rows,
        purpose=Purpose.MONITOR,
        source=source,
        details={"role": role, "window": window[:_MAX] or "-", "location": location[:_MAX]},
    )


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
        actor=monitor_actor(),
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
