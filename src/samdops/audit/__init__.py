"""The tamper-evident audit log: events, Merkle tree, signed checkpoints, SIEM fan-out, export.

Start with :class:`AuditLog` (``AuditLog.open(signer=LocalEd25519Signer.load_or_create())``) and
:class:`EventDraft`. Every module documents its part of the design.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from samdops.audit.checkpoint import Checkpoint, sign_checkpoint
    from samdops.audit.entry import AuditRecord
    from samdops.audit.event import (
        Action,
        Actor,
        AuditEvent,
        AuthMethod,
        EventDraft,
        Outcome,
        Source,
        SourceKind,
        Target,
    )
    from samdops.audit.export import entry_proof, export_log, verify_entry_proof, verify_export
    from samdops.audit.log import AuditLog, SinkFailure
    from samdops.audit.siem import EventSink, OcsfFileSink, SyslogSink, sink_from_url
    from samdops.audit.signer import LocalEd25519Signer, Signer, key_id_for, verify_signature
    from samdops.audit.store import EntryStore, LocalEntryStore
    from samdops.audit.verify import VerifiedLog

_EXPORTS = {
    "Action": "samdops.audit.event",
    "Actor": "samdops.audit.event",
    "AuditEvent": "samdops.audit.event",
    "AuditLog": "samdops.audit.log",
    "AuditRecord": "samdops.audit.entry",
    "AuthMethod": "samdops.audit.event",
    "Checkpoint": "samdops.audit.checkpoint",
    "EntryStore": "samdops.audit.store",
    "EventDraft": "samdops.audit.event",
    "EventSink": "samdops.audit.siem",
    "LocalEd25519Signer": "samdops.audit.signer",
    "LocalEntryStore": "samdops.audit.store",
    "OcsfFileSink": "samdops.audit.siem",
    "Outcome": "samdops.audit.event",
    "Signer": "samdops.audit.signer",
    "SinkFailure": "samdops.audit.log",
    "Source": "samdops.audit.event",
    "SourceKind": "samdops.audit.event",
    "SyslogSink": "samdops.audit.siem",
    "Target": "samdops.audit.event",
    "VerifiedLog": "samdops.audit.verify",
    "entry_proof": "samdops.audit.export",
    "export_log": "samdops.audit.export",
    "key_id_for": "samdops.audit.signer",
    "sign_checkpoint": "samdops.audit.checkpoint",
    "sink_from_url": "samdops.audit.siem",
    "verify_entry_proof": "samdops.audit.export",
    "verify_export": "samdops.audit.export",
    "verify_signature": "samdops.audit.signer",
}


def __getattr__(name: str) -> Any:
    """Load a public name's module on first use: a pipeline step that appends to the log does not
    pay for export, reports and the SIEM formats (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'samdops.audit' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = [
    "Action",
    "Actor",
    "AuditEvent",
    "AuditLog",
    "AuditRecord",
    "AuthMethod",
    "Checkpoint",
    "EntryStore",
    "EventDraft",
    "EventSink",
    "LocalEd25519Signer",
    "LocalEntryStore",
    "OcsfFileSink",
    "Outcome",
    "Signer",
    "SinkFailure",
    "Source",
    "SourceKind",
    "SyslogSink",
    "Target",
    "VerifiedLog",
    "entry_proof",
    "export_log",
    "key_id_for",
    "sign_checkpoint",
    "sink_from_url",
    "verify_entry_proof",
    "verify_export",
    "verify_signature",
]
