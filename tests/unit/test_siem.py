"""SIEM fan-out: CEF escaping, RFC 5424 over real UDP and TCP listeners, OCSF JSON lines."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from samdops.audit import (
    Action,
    Actor,
    AuditLog,
    AuditRecord,
    AuthMethod,
    EventDraft,
    LocalEd25519Signer,
    OcsfFileSink,
    Outcome,
    Source,
    SourceKind,
    SyslogSink,
    Target,
)
from samdops.audit.event import EventKind
from samdops.audit.siem import (
    cef_escape_header,
    cef_escape_value,
    cef_severity,
    format_cef,
    ocsf_event,
    sink_from_url,
)
from samdops.errors import ConfigError

NASTY = "a=b|c\\d\nsecond line\r end"
SYSLOG_RE = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-) (?P<msg>.*)$",
    re.S,
)


def parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    """A strict reader: 7 header fields split on unescaped pipes, then key=value extensions."""
    assert line.startswith("CEF:0|")
    fields: list[str] = []
    current, i = "", 0
    while len(fields) < 7:
        c = line[i]
        if c == "\\":
            current += line[i + 1]
            i += 2
            continue
        if c == "|":
            fields.append(current)
            current = ""
        else:
            current += c
        i += 1
    ext = line[i:]
    keys = list(re.finditer(r"(?:^| )([A-Za-z0-9]+)=", ext))
    values = {}
    for k, nxt in zip(keys, [*keys[1:], None], strict=True):
        raw = ext[k.end() : nxt.start() if nxt else len(ext)]
        assert re.search(r"(?<!\\)=", raw.replace("\\\\", "")) is None, raw  # '=' escaped
        values[k.group(1)] = re.sub(
            r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), raw
        )
    return fields, values


def make_draft(reason: str = NASTY, outcome: Outcome = Outcome.SUCCESS) -> EventDraft:
    return EventDraft(
        actor=Actor("bob|admin", AuthMethod.OIDC),
        action=Action.DELETE,
        target=Target("model/pima", "7"),
        source=Source(SourceKind.API, "req=42"),
        outcome=outcome,
        prev_hash="sha256:" + "c" * 64,
        new_hash="sha256:" + "d" * 64,
        reason=reason,
    )


@pytest.fixture
def udp_listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


class _Frames(socketserver.StreamRequestHandler):
    """Reads RFC 6587 octet-counted frames until the client closes."""

    def handle(self) -> None:
        while True:
            digits = b""
            while (c := self.rfile.read(1)) not in (b" ", b""):
                digits += c
            if not digits:
                return
            self.server.frames.append(self.rfile.read(int(digits)))  # type: ignore[attr-defined]


@pytest.fixture
def tcp_listener() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Frames)
    server.daemon_threads = True
    server.frames = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def check_syslog(data: bytes, record: AuditRecord) -> dict[str, str]:
    match = SYSLOG_RE.match(data.decode("utf-8"))
    assert match, data
    assert int(match["pri"]) == 13 * 8 + 5  # facility log audit, notice for a success
    assert match["ts"] == record.event.time and match["app"] == "samdops"
    assert match["host"] == "samdops-test" and match["msgid"] == "audit"
    header, ext = parse_cef(match["msg"])
    assert header == [
        "CEF:0",
        "samdops",
        "samdops-audit",
        header[3],
        "audit:delete",
        "delete model/pima@7",
        "3",
    ]
    return ext


def test_cef_escapes_header_and_extension_values() -> None:
    assert cef_escape_header("a|b\\c") == "a\\|b\\\\c"
    assert cef_escape_value(NASTY) == "a\\=b|c\\\\d\\nsecond line\\r end"
    log_record = AuditRecord(0, "sha256:" + "0" * 64, make_draft().stamp(), bytes(32))
    line = format_cef(log_record)
    assert "\n" not in line and "\r" not in line
    _, ext = parse_cef(line)
    assert ext["reason"] == NASTY
    assert ext["suser"] == "bob|admin"
    assert ext["cs3"] == "api:req=42"
    assert ext["cn1"] == "0" and ext["act"] == "delete" and ext["outcome"] == "success"


def test_events_arrive_over_udp(tmp_path: Path, udp_listener: socket.socket) -> None:
    port = udp_listener.getsockname()[1]
    sink = SyslogSink("127.0.0.1", port, "udp", hostname="samdops-test")
    log = AuditLog.open(tmp_path / "audit", sinks=[sink])
    record = log.append(make_draft())
    data, _ = udp_listener.recvfrom(65535)
    ext = check_syslog(data, record)
    assert ext["reason"] == NASTY
    assert ext["externalId"] == record.event.id
    assert ext["cs6"] == record.digest
    assert not log.sink_failures


def test_events_and_checkpoints_arrive_over_tcp(
    tmp_path: Path, tcp_listener: socketserver.ThreadingTCPServer
) -> None:
    port = tcp_listener.server_address[1]
    sink = SyslogSink("127.0.0.1", port, "tcp", hostname="samdops-test")
    signer = LocalEd25519Signer.load_or_create(tmp_path / "key.pem")
    log = AuditLog.open(tmp_path / "audit", signer=signer, sinks=[sink])
    with log.covered():  # one checkpoint after the three
        records = [log.append(make_draft(reason=f"r{i}\nx")) for i in range(3)]
    checkpoint = log.checkpoint()
    sink.close()
    frames: list[bytes] = tcp_listener.frames  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    while len(frames) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(frames) == 4
    for frame, record in zip(frames, records, strict=False):
        ext = check_syslog(frame, record)
        assert ext["cn1"] == str(record.seq)
        assert ext["reason"] == record.event.reason
    _, ext = parse_cef(SYSLOG_RE.match(frames[3].decode())["msg"])  # type: ignore[index]
    assert ext["cs3"] == checkpoint.to_note()  # the whole signed note, anchored in the SIEM
    assert ext["cn1"] == "3"


def test_unreachable_siem_is_reported_but_the_entry_is_kept(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = SyslogSink("127.0.0.1", port, "tcp", timeout=0.5)
    log = AuditLog.open(tmp_path / "audit", sinks=[sink])
    record = log.append(make_draft())
    assert log.record(0) == record
    assert len(log.sink_failures) == 1
    assert log.sink_failures[0].error.startswith("ConnectionRefusedError")


def test_ocsf_lines(tmp_path: Path) -> None:
    path = tmp_path / "siem" / "audit.ocsf.jsonl"
    sink = OcsfFileSink(path, hostname="samdops-test")
    log = AuditLog.open(tmp_path / "audit", sinks=[sink])
    ok = log.append(make_draft())
    denied = log.append(make_draft(outcome=Outcome.DENIED))
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert (first["class_uid"], first["category_uid"], first["activity_id"]) == (6003, 6, 4)
    assert first["type_uid"] == 600304 and first["status_id"] == 1
    assert first["metadata"]["uid"] == ok.event.id and first["metadata"]["sequence"] == 0
    assert first["actor"]["user"]["uid"] == "bob|admin"
    assert first["api"]["operation"] == "delete"
    assert first["src_endpoint"]["hostname"] == "samdops-test"
    assert first["unmapped"]["reason"] == NASTY
    assert first["unmapped"]["entry_hash"] == ok.digest
    assert second["status_id"] == 2 and second["severity_id"] == 4
    assert second["metadata"]["uid"] == denied.event.id


def test_sinks_from_configured_urls(tmp_path: Path) -> None:
    udp = sink_from_url("syslog+udp://127.0.0.1:5514")
    assert isinstance(udp, SyslogSink) and (udp.host, udp.port, udp.transport) == (
        "127.0.0.1",
        5514,
        "udp",
    )
    tcp = sink_from_url("syslog+tcp://siem.example:6514")
    assert isinstance(tcp, SyslogSink) and tcp.transport == "tcp"
    ocsf = sink_from_url(f"ocsf+file://{tmp_path}/ocsf.jsonl")
    assert isinstance(ocsf, OcsfFileSink) and ocsf.path == tmp_path / "ocsf.jsonl"
    with pytest.raises(ConfigError, match="needs a host and a port"):
        sink_from_url("syslog+tcp://siem.example")
    with pytest.raises(ConfigError, match="unsupported SIEM destination 'http://x'"):
        sink_from_url("http://x")


# -- issue 18: kinds, reads and steps ----------------------------------------------------------


def _stamped(draft: EventDraft, seq: int = 0) -> AuditRecord:
    return AuditRecord(seq, "sha256:" + "0" * 64, draft.stamp(), bytes(32))


def _activity_drafts() -> dict[str, EventDraft]:
    from samdops.audit.activity import (
        Purpose,
        data_read,
        query,
        secret_read,
        step_ended,
        step_started,
    )

    run, image = "samdops-train-1", "registry.local/samdops@sha256:" + "9" * 64
    pipeline = Actor("svc:samdops-pipeline", AuthMethod.SERVICE_ACCOUNT_TOKEN)
    source = Source(SourceKind.PIPELINE_RUN, run)
    digest = "sha256:" + "a" * 64
    return {
        "read": data_read(
            pipeline, "pima", digest, rows=768, purpose=Purpose.INGEST, source=source
        ),
        "query": query(Actor("ada", AuthMethod.PASSWORD), "audit/export", source=source),
        "export": EventDraft(
            actor=Actor("ada", AuthMethod.PASSWORD),
            action=Action.EXPORT,
            target=Target("package/pima", "1"),
            source=Source(SourceKind.CLI, "samdops package export"),
        ),
        "secret": secret_read("ingest", "kv/samdops/s3", source=source, vault_request_id="r-1"),
        "start": step_started(pipeline, "ingest", run, image=image, inputs={"csv": digest}),
        "end": step_ended(
            pipeline, "ingest", run, image=image, inputs={}, outputs={}, error=KeyError("x")
        ),
    }


def test_kind_is_in_cef_and_ocsf() -> None:
    record = _stamped(make_draft())
    _, ext = parse_cef(format_cef(record))
    assert ext["cat"] == "change"
    assert ocsf_event(record, hostname="h")["unmapped"]["kind"] == "change"
    for name, draft in _activity_drafts().items():
        record = _stamped(draft)
        _, ext = parse_cef(format_cef(record))
        assert ext["cat"] == ocsf_event(record, hostname="h")["unmapped"]["kind"], name
    expected = {"read": "access", "query": "access", "export": "access", "secret": "security"}
    for name, kind in {**expected, "start": "execution", "end": "execution"}.items():
        _, ext = parse_cef(format_cef(_stamped(_activity_drafts()[name])))
        assert ext["cat"] == kind, name


def test_reads_are_ocsf_read_and_steps_are_process_activity() -> None:
    drafts = _activity_drafts()
    for name in ("read", "query", "export", "secret"):
        event = ocsf_event(_stamped(drafts[name]), hostname="h")
        assert (event["class_uid"], event["activity_id"], event["activity_name"]) == (
            6003,
            2,
            "Read",
        ), name
        assert event["type_uid"] == 600302
    start = ocsf_event(_stamped(drafts["start"]), hostname="h")
    assert (start["class_uid"], start["class_name"], start["category_uid"]) == (
        1007,
        "Process Activity",
        1,
    )
    assert (start["activity_id"], start["activity_name"], start["type_uid"]) == (
        1,
        "Launch",
        100701,
    )
    assert start["process"] == {"name": "ingest", "uid": "samdops-train-1"}
    assert start["container"]["image"]["uid"].endswith("@sha256:" + "9" * 64)
    end = ocsf_event(_stamped(drafts["end"]), hostname="h")
    assert (end["activity_name"], end["type_uid"], end["status_id"]) == ("Terminate", 100702, 2)
    assert end["unmapped"]["details"]["error_class"] == "KeyError"


def test_secret_reads_and_security_events_are_high_severity() -> None:
    drafts = _activity_drafts()
    secret = _stamped(drafts["secret"])
    assert cef_severity(secret) == 8
    header, _ = parse_cef(format_cef(secret))
    assert header[4:] == ["audit:secret_read", "secret_read secret/kv/samdops/s3@ingest", "8"]
    assert ocsf_event(secret, hostname="h")["severity_id"] == 4
    raised = dataclasses.replace(drafts["export"], kind=EventKind.SECURITY)
    assert cef_severity(_stamped(raised)) == 8
    assert cef_severity(_stamped(drafts["read"])) == 3
    assert cef_severity(_stamped(drafts["end"])) == 6  # a failed step
