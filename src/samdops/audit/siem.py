"""Security-event fan-out: every durable audit entry (and checkpoint) also goes to the SIEM.

Formats:

- CEF (ArcSight Common Event Format, rev. 25): ``CEF:0|samdops|samdops-audit|<ver>|<sig id>|
  <name>|<severity>|<extension>``. In the header ``\\`` and ``|`` are escaped; in extension values
  ``\\``, ``=``, newline and carriage return are.
- syslog (RFC 5424): ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG`` with facility 13 (log audit);
  over UDP one datagram per message, over TCP with octet-counting framing
  (``<length> <message>``, RFC 6587 §3.4.1 / RFC 5425 §4.3).
- OCSF 1.3 JSON lines, class API Activity (6003, category Application Activity): registry changes
  are API operations on records, and reads (``read``, ``query``, ``export``, ``secret_read``) are
  activity Read. A pipeline step's start and end are class Process Activity (1007, category System
  Activity), activity Launch and Terminate: a step is a process in a container image. Account
  events (OCSF Account Change, 3001) belong to the identity provider, not to this log.

Every event carries its ``kind`` (access, change, execution, security): CEF ``cat``, OCSF
``unmapped.kind``. A security event (a secret read, a refusal, a purge attempt) is high severity.

A sink is any :class:`EventSink`. The audit log calls sinks only *after* the entry is durable; a
sink error never undoes or loses the entry: the log reports it (see ``AuditLog.sink_failures``)
and ``AuditLog.replay`` can resend. :meth:`OcsfFileSink.checkpoints` reads the checkpoints back,
so that an OCSF file anchors the log (:mod:`samdops.audit.anchor`).
"""

from __future__ import annotations

import json
import os
import socket
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from samdops import __version__
from samdops.audit.checkpoint import Checkpoint
from samdops.audit.entry import AuditRecord
from samdops.audit.event import Action, EventKind, Outcome
from samdops.errors import AuditError, CheckpointInvalid, ConfigError

FACILITY_LOG_AUDIT = 13
_CHECKPOINT_OP = b"checkpoint"  # cheap filter before parsing a line
_HIGH = frozenset((Action.PURGE_ATTEMPT, Action.SIGNING_FAILURE, Action.SECRET_READ))
_OCSF_ACTIVITY = {
    Action.CREATE: (1, "Create"),
    Action.READ: (2, "Read"),
    Action.QUERY: (2, "Read"),
    Action.EXPORT: (2, "Read"),
    Action.SECRET_READ: (2, "Read"),
    Action.MODIFY: (3, "Update"),
    Action.SIGN: (3, "Update"),
    Action.STATE_CHANGE: (3, "Update"),
    Action.DELETE: (4, "Delete"),
}
# class uid, class name, category uid, category name
_API_ACTIVITY = (6003, "API Activity", 6, "Application Activity")
_PROCESS_ACTIVITY = (1007, "Process Activity", 1, "System Activity")
_OCSF_PROCESS = {Action.STEP_START: (1, "Launch"), Action.STEP_END: (2, "Terminate")}


@runtime_checkable
class EventSink(Protocol):
    """Receives each audit entry and checkpoint after it is durable; may raise on failure."""

    def emit(self, record: AuditRecord) -> None:
        """Send one audit entry."""
        ...

    def emit_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Send a signed checkpoint (anchors it outside the platform, AT-05)."""
        ...


def cef_escape_header(value: str) -> str:
    """Escape a CEF header field: backslash and pipe."""
    return value.replace("\\", "\\\\").replace("|", "\\|")


def cef_escape_value(value: str) -> str:
    """Escape a CEF extension value: backslash, equals sign, newline, carriage return."""
    return (
        value.replace("\\", "\\\\")
        .replace("=", "\\=")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
    )


def _epoch_ms(time: str) -> int:
    moment = datetime.fromisoformat(time)
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def cef_severity(record: AuditRecord) -> int:
    """0-10: 3 for a successful change, 6 for a failure, 8 for a denial or a security event
    (kind security, e.g. a secret read); an event may raise (never lower) it with the detail
    ``cef_severity`` (e.g. a drift alert)."""
    event = record.event
    security = event.action in _HIGH or event.kind is EventKind.SECURITY
    if security or event.outcome is Outcome.DENIED:
        return 8
    base = 6 if event.outcome is Outcome.FAILURE else 3
    asked = dict(event.details).get("cef_severity", "")
    return max(base, min(int(asked), 10)) if asked.isdigit() else base


def _cef(sig_id: str, name: str, severity: int, ext: list[tuple[str, str]]) -> str:
    header = "|".join(
        cef_escape_header(x)
        for x in ("CEF:0", "samdops", "samdops-audit", __version__, sig_id, name, str(severity))
    )
    return header + "|" + " ".join(f"{k}={cef_escape_value(v)}" for k, v in ext)


def format_cef(record: AuditRecord) -> str:
    """One audit entry as a CEF line."""
    e = record.event
    ext = [
        ("rt", str(_epoch_ms(e.time))),
        ("externalId", e.id),
        ("suser", e.actor.id),
        ("act", e.action.value),
        ("cat", str(e.kind)),
        ("outcome", e.outcome.value),
        ("cs1Label", "authMethod"),
        ("cs1", e.actor.auth.value),
        ("cs2Label", "target"),
        ("cs2", str(e.target)),
        ("cs3Label", "source"),
        ("cs3", f"{e.source.kind.value}:{e.source.ref}"),
        ("cs4Label", "prevHash"),
        ("cs4", e.prev_hash or "-"),
        ("cs5Label", "newHash"),
        ("cs5", e.new_hash or "-"),
        ("cs6Label", "entryHash"),
        ("cs6", record.digest),
        ("cn1Label", "auditSeq"),
        ("cn1", str(record.seq)),
    ]
    if e.reason is not None:
        ext.append(("reason", e.reason))
    message = dict(e.details).get("message")
    if message:
        ext.append(("msg", message))
    name = f"{e.action.value} {e.target}"
    return _cef(f"audit:{e.action.value}", name, cef_severity(record), ext)


def format_checkpoint_cef(checkpoint: Checkpoint) -> str:
    """A signed checkpoint as a CEF line carrying the whole note."""
    ext = [
        ("rt", str(_epoch_ms(checkpoint.time))),
        ("cn1Label", "treeSize"),
        ("cn1", str(checkpoint.size)),
        ("cs1Label", "rootHash"),
        ("cs1", "sha256:" + checkpoint.root.hex()),
        ("cs2Label", "keyId"),
        ("cs2", checkpoint.key_id),
        ("cs3Label", "checkpointNote"),
        ("cs3", checkpoint.to_note()),
    ]
    return _cef("audit:checkpoint", f"checkpoint {checkpoint.size}", 3, ext)


def format_syslog(
    message: str,
    *,
    timestamp: str,
    severity: int = 5,
    hostname: str | None = None,
    app_name: str = "samdops",
    msgid: str = "audit",
    facility: int = FACILITY_LOG_AUDIT,
) -> bytes:
    """An RFC 5424 message (no structured data) with ``message`` as MSG."""
    host = (hostname or socket.gethostname() or "-")[:255]
    header = f"<{facility * 8 + severity}>1 {timestamp} {host} {app_name} {os.getpid()} {msgid} -"
    return (header + " " + message).encode("utf-8")


def frame_octet_counting(message: bytes) -> bytes:
    """TCP framing: ``<length> <message>``."""
    return str(len(message)).encode() + b" " + message


class SyslogSink:
    """Sends CEF events as RFC 5424 syslog over UDP or TCP (one persistent connection)."""

    def __init__(
        self,
        host: str,
        port: int,
        transport: Literal["udp", "tcp"] = "udp",
        *,
        timeout: float = 2.0,
        hostname: str | None = None,
    ) -> None:
        if transport not in ("udp", "tcp"):
            raise ValueError(f"syslog transport must be 'udp' or 'tcp'; got {transport!r}")
        self.host, self.port, self.transport = host, port, transport
        self._timeout = timeout
        self._hostname = hostname
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SyslogSink({self.transport}://{self.host}:{self.port})"

    def emit(self, record: AuditRecord) -> None:
        severity = 4 if cef_severity(record) >= 6 else 5
        self._send(format_cef(record), record.event.time, severity)

    def emit_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._send(format_checkpoint_cef(checkpoint), checkpoint.time, 5)

    def close(self) -> None:
        """Close the connection, if any."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def _send(self, message: str, timestamp: str, severity: int) -> None:
        data = format_syslog(
            message, timestamp=timestamp, severity=severity, hostname=self._hostname
        )
        with self._lock:
            if self.transport == "udp":
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    sock.sendto(data, (self.host, self.port))
                return
            framed = frame_octet_counting(data)
            for attempt in (1, 2):  # reconnect once if the server dropped the connection
                try:
                    if self._sock is None:
                        self._sock = socket.create_connection(
                            (self.host, self.port), timeout=self._timeout
                        )
                    self._sock.sendall(framed)
                    return
                except OSError:
                    if self._sock is not None:
                        self._sock.close()
                        self._sock = None
                    if attempt == 2:
                        raise


def ocsf_event(record: AuditRecord, *, hostname: str | None = None) -> dict[str, Any]:
    """One audit entry as an OCSF 1.3 event: API Activity, or Process Activity for a step."""
    e = record.event
    if e.action in _OCSF_PROCESS:
        (class_uid, class_name, category_uid, category), (activity_id, activity) = (
            _PROCESS_ACTIVITY,
            _OCSF_PROCESS[e.action],
        )
    else:
        class_uid, class_name, category_uid, category = _API_ACTIVITY
        activity_id, activity = _OCSF_ACTIVITY.get(e.action, (99, "Other"))
    ok = e.outcome is Outcome.SUCCESS
    severity = cef_severity(record)
    event: dict[str, Any] = {
        "class_uid": class_uid,
        "class_name": class_name,
        "category_uid": category_uid,
        "category_name": category,
        "activity_id": activity_id,
        "activity_name": activity,
        "type_uid": class_uid * 100 + activity_id,
        "time": _epoch_ms(e.time),
        "severity_id": 1 if severity <= 3 else (3 if severity <= 6 else 4),
        "status_id": 1 if ok else 2,
        "status": "Success" if ok else "Failure",
        "status_detail": e.outcome.value,
        "message": f"{e.action.value} {e.target}",
        "metadata": {
            "version": "1.3.0",
            "uid": e.id,
            "log_name": "samdops-audit",
            "sequence": record.seq,
            "product": {"name": "samdops", "vendor_name": "samdops", "version": __version__},
        },
        "actor": {"user": {"uid": e.actor.id}},
        "api": {"operation": e.action.value, "service": {"name": "samdops"}},
        "src_endpoint": {"hostname": hostname or socket.gethostname()},
        "resources": [
            {"uid": e.target.id, "type": "record", "data": {"version": e.target.version}}
        ],
        "unmapped": {
            "kind": str(e.kind),
            "auth_method": e.actor.auth.value,
            "source": {"kind": e.source.kind.value, "ref": e.source.ref},
            "prev_hash": e.prev_hash,
            "new_hash": e.new_hash,
            "reason": e.reason,
            "details": e.detail_map(),
            "entry_hash": record.digest,
        },
    }
    if class_uid == _PROCESS_ACTIVITY[0]:
        details = e.detail_map()
        event["process"] = {"name": details.get("step", e.target.id), "uid": e.target.version}
        event["container"] = {"image": {"uid": details.get("image", "")}}
    return event


class OcsfFileSink:
    """Appends OCSF JSON lines to a file; each line is one ``write`` with ``O_APPEND``."""

    def __init__(self, path: str | Path, *, hostname: str | None = None) -> None:
        self.path = Path(path)
        self._hostname = hostname

    def __repr__(self) -> str:
        return f"OcsfFileSink({str(self.path)!r})"

    def emit(self, record: AuditRecord) -> None:
        self._write(ocsf_event(record, hostname=self._hostname))

    def emit_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._write(
            {
                "class_uid": 6003,
                "class_name": "API Activity",
                "category_uid": 6,
                "activity_id": 99,
                "activity_name": "Other",
                "type_uid": 600399,
                "time": _epoch_ms(checkpoint.time),
                "severity_id": 1,
                "status_id": 1,
                "message": f"audit checkpoint {checkpoint.size}",
                "metadata": {
                    "version": "1.3.0",
                    "log_name": "samdops-audit",
                    "product": {"name": "samdops", "vendor_name": "samdops"},
                },
                "actor": {"user": {"uid": "samdops-audit"}},
                "api": {"operation": "checkpoint", "service": {"name": "samdops"}},
                "src_endpoint": {"hostname": self._hostname or socket.gethostname()},
                "unmapped": {"checkpoint": checkpoint.to_note()},
            }
        )

    def checkpoints(self) -> list[Checkpoint]:
        """The checkpoints written to the file, read back so that it anchors the log (none while
        the file does not exist). Lines that are not a checkpoint event are skipped."""
        found = []
        try:
            with self.path.open("rb") as lines:
                for number, line in enumerate(lines, 1):
                    note = _checkpoint_note(line) if _CHECKPOINT_OP in line else None
                    if note is None:
                        continue
                    try:
                        found.append(Checkpoint.from_note(note))
                    except CheckpointInvalid as exc:
                        raise CheckpointInvalid(
                            f"line {number} of the SIEM file {self.path} holds a malformed "
                            f"checkpoint: {exc}"
                        ) from None
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise AuditError(f"cannot read the SIEM file {self.path}: {exc.strerror}") from None
        return found

    def _write(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, sort_keys=True, separators=(",", ":")).encode() + b"\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def _checkpoint_note(line: bytes) -> str | None:
    """The note of an OCSF checkpoint event line; ``None`` for any other line (or a partial one)."""
    try:
        event = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(event, dict) or not isinstance(event.get("api"), dict):
        return None
    unmapped = event.get("unmapped")
    note = unmapped.get("checkpoint") if isinstance(unmapped, dict) else None
    operation = event["api"].get("operation")
    return note if operation == "checkpoint" and isinstance(note, str) else None


def sink_from_url(url: str) -> EventSink:
    """The sink for a configured destination.

    ``syslog+udp://HOST:PORT`` and ``syslog+tcp://HOST:PORT`` send CEF over RFC 5424 syslog;
    ``ocsf+file:///ABSOLUTE/PATH.jsonl`` appends OCSF JSON lines.
    """
    parts = urlsplit(url)
    if parts.scheme in ("syslog+udp", "syslog+tcp"):
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            raise ConfigError(f"SIEM destination {url!r} needs a host and a port, e.g. :514")
        transport: Literal["udp", "tcp"] = "udp" if parts.scheme == "syslog+udp" else "tcp"
        return SyslogSink(parts.hostname, port, transport)
    if parts.scheme == "ocsf+file" and parts.path and not parts.netloc:
        return OcsfFileSink(parts.path)
    raise ConfigError(
        f"unsupported SIEM destination {url!r}; use syslog+udp://HOST:PORT, "
        "syslog+tcp://HOST:PORT or ocsf+file:///PATH"
    )
