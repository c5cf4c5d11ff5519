"""The tamper-evident audit log: events, Merkle tree, signed checkpoints, SIEM fan-out, export.

Start with :class:`AuditLog` (``AuditLog.open(signer=LocalEd25519Signer.load_or_create())``) and
:class:`EventDraft`. Every module documents its part of the design.
"""

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
