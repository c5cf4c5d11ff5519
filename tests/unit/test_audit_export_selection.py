"""Selections of the audit log (AT-02): filters by kind, actor, target, time and run; each exported
entry keeps its inclusion proof; the query entry that recorded the export proves the selection
complete, so an edited, shortened or padded selection fails offline; the reports show a run's
whole trace, escaped."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from samdops.audit import (
    Action,
    Actor,
    AuditLog,
    AuthMethod,
    EventDraft,
    LocalEd25519Signer,
    Outcome,
    Source,
    SourceKind,
    Target,
)
from samdops.audit.activity import Purpose, data_read, secret_read, step_ended, step_started
from samdops.audit.event import EventKind
from samdops.audit.export import SELECTION_FILE, export_log, verify_export
from samdops.audit.selection import Selection
from samdops.audit.trace import run_trace
from samdops.errors import AuditError, AuditVerificationError, ConfigError

RUN = "samdops-train-20260131-120000"
OTHER = "samdops-train-20260131-130000"
PIPELINE = Actor("svc:samdops-pipeline", AuthMethod.SERVICE_ACCOUNT_TOKEN)
AUDITOR = Actor("ada", AuthMethod.PASSWORD)
D = {c: "sha256:" + c * 64 for c in "abcdef"}
IMAGE = "registry.local/samdops@sha256:" + "9" * 64


def _run_events(run: str, *, fail_train: bool = False) -> list[EventDraft]:
    """What a training run records: its launch, two steps with their reads, a secret read."""
    source = Source(SourceKind.PIPELINE_RUN, run)
    error = ValueError("bad column") if fail_train else None
    return [
        EventDraft(
            actor=Actor("eve", AuthMethod.PASSWORD),
            action=Action.CREATE,
            target=Target(f"run:{run}", "1"),
            source=Source(SourceKind.CLI, "samdops run"),
            details={"kind": "run-launch", "pipeline": "samdops-training"},
        ),
        step_started(PIPELINE, "ingest", run, image=IMAGE, inputs={"csv": D["a"]}),
        data_read(PIPELINE, "pima", D["a"], rows=768, purpose=Purpose.INGEST, source=source),
        secret_read("ingest", "kv/samdops/s3", source=source, vault_request_id="req-1"),
        step_ended(
            PIPELINE, "ingest", run, image=IMAGE, inputs={"csv": D["a"]}, outputs={"data": D["b"]}
        ),
        step_started(PIPELINE, "train", run, image=IMAGE, inputs={"train": D["b"]}),
        data_read(PIPELINE, "pima/train", D["b"], rows=614, purpose=Purpose.TRAIN, source=source),
        step_ended(
            PIPELINE,
            "train",
            run,
            image=IMAGE,
            inputs={"train": D["b"]},
            outputs={} if fail_train else {"model": D["c"]},
            error=error,
        ),
    ]


def _change(i: int) -> EventDraft:
    return EventDraft(
        actor=Actor("carol", AuthMethod.PASSWORD),
        action=Action.STATE_CHANGE,
        target=Target("model/pima-diabetes-onset", str(i)),
        source=Source(SourceKind.CLI, "samdops promote"),
        details={"from": "validated", "to": "reviewed"},
    )


@pytest.fixture
def signer(tmp_path: Path) -> LocalEd25519Signer:
    return LocalEd25519Signer.load_or_create(tmp_path / "key.pem")


@pytest.fixture
def log(tmp_path: Path, signer: LocalEd25519Signer) -> AuditLog:
    """Entries 0-1 changes, 2-9 run RUN, 10-17 run OTHER (its train step fails), 18 a change."""
    log = AuditLog.open(tmp_path / "audit", signer=signer)
    with log.covered():
        for draft in [
            _change(1),
            _change(2),
            *_run_events(RUN),
            *_run_events(OTHER, fail_train=True),
            _change(3),
        ]:
            log.append(draft)
    return log


def _export(
    log: AuditLog, signer: LocalEd25519Signer, out: Path, **filters: str | list[str]
) -> list[int]:
    """Export the selection of ``filters`` and verify it; the selected sequence numbers."""
    kinds = filters.pop("kinds", [])
    selection = Selection.parse(kinds=kinds, **filters)  # type: ignore[arg-type]
    export_log(log, out, signer.public_key_pem(), selection=selection, reader=AUDITOR)
    verified = verify_export(out, signer.public_key_pem())
    seqs = [json.loads(x)["seq"] for x in (out / "audit.jsonl").read_text().splitlines()]
    assert seqs[-1] == verified.query_entry and verified.selected == len(seqs) - 1
    return seqs[:-1]


def test_each_filter_selects_its_entries_and_the_selection_verifies(
    log: AuditLog, signer: LocalEd25519Signer, tmp_path: Path
) -> None:
    out = tmp_path / "x"
    assert _export(log, signer, out, kinds=["execution"]) == [3, 6, 7, 9, 11, 14, 15, 17]
    assert _export(log, signer, out, kinds=["security", "change"]) == [0, 1, 2, 5, 10, 13, 18]
    assert _export(log, signer, out, actor="carol") == [0, 1, 18]
    assert _export(log, signer, out, target="dataset/") == [4, 8, 12, 16]
    assert _export(log, signer, out, target="dataset/pima/train@") == [8, 16]
    assert _export(log, signer, out, run=RUN) == list(range(2, 10))


def test_since_and_until_are_inclusive_bounds_in_utc(
    tmp_path: Path, signer: LocalEd25519Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = iter(
        [
            "2026-01-31T11:59:59.999Z",
            "2026-01-31T12:00:00.000Z",
            "2026-01-31T12:30:00.000Z",
            "2026-01-31T13:00:00.000Z",
            "2026-01-31T13:00:00.001Z",
        ]
    )
    monkeypatch.setattr(
        "samdops.audit.event.utc_timestamp", lambda: next(clock, "2026-02-01T00:00:00.000Z")
    )
    log = AuditLog.open(tmp_path / "audit", signer=signer)
    for i in range(5):
        log.append(_change(i))
    out = tmp_path / "x"
    assert _export(log, signer, out, since="2026-01-31T12:00:00Z") == [1, 2, 3, 4]
    assert _export(log, signer, out, until="2026-01-31T14:00:00+01:00") == [0, 1, 2, 3]
    both = _export(log, signer, out, since="2026-01-31T12:00:00Z", until="2026-01-31T13:00:00Z")
    assert both == [1, 2, 3]
    header = json.loads((out / SELECTION_FILE).read_text())
    assert header == {
        "filter": {"since": "2026-01-31T12:00:00.000Z", "until": "2026-01-31T13:00:00.000Z"},
        "log_size": 7,
        "query_entry": 7,
        "selected": 3,
    }


def test_filters_combine_and_an_empty_selection_still_proves_itself(
    log: AuditLog, signer: LocalEd25519Signer, tmp_path: Path
) -> None:
    out = tmp_path / "x"
    combined = _export(log, signer, out, kinds=["access"], run=OTHER, target="dataset/pima@")
    assert combined == [12]
    assert _export(log, signer, out, actor="nobody") == []
    verified = verify_export(out, signer.public_key_pem())
    assert verified.selected == 0 and verified.size == len(log)
    assert (
        "selection:   actor=nobody (a selection, not the whole log)"
        in (out / "report.txt").read_text()
    )


def test_the_export_is_itself_a_query_entry_with_the_filter_and_the_count(
    log: AuditLog, signer: LocalEd25519Signer, tmp_path: Path
) -> None:
    _export(log, signer, tmp_path / "x", kinds=["execution"], run=RUN)
    query = log.record(len(log) - 1).event
    assert (query.action, query.kind, query.actor) == (Action.QUERY, EventKind.ACCESS, AUDITOR)
    assert query.target.id == "query/audit/export"
    details = query.detail_map()
    assert details["filter.kind"] == "execution" and details["filter.run"] == RUN
    assert details["results"] == "4" and details["log_size"] == "19"
    assert log.latest_checkpoint().size == len(log)  # type: ignore[union-attr]


def test_a_whole_log_export_includes_its_own_query_entry(
    log: AuditLog, signer: LocalEd25519Signer, tmp_path: Path
) -> None:
    result = export_log(log, tmp_path / "all", signer.public_key_pem(), reader=AUDITOR)
    assert (result.size, result.selected, result.query_entry) == (20, None, 19)
    assert not (tmp_path / "all" / SELECTION_FILE).exists()
    assert verify_export(tmp_path / "all", signer.public_key_pem()).size == 20
    assert "selection:   all entries\n" in (tmp_path / "all" / "report.txt").read_text()


def test_a_selection_needs_a_reader(
    log: AuditLog, signer: LocalEd25519Signer, tmp_path: Path
) -> None:
    with pytest.raises(AuditError, match="exported only with its reader's query"):
        export_log(log, tmp_path / "x", signer.public_key_pem(), selection=Selection(run=RUN))


def _lines(out: Path) -> list[str]:
    return (out / "audit.jsonl").read_text().splitlines()


def _edit_entry(lines: list[str], i: int, old: str, new: str) -> list[str]:
    line = json.loads(lines[i])
    line["entry"] = line["entry"].replace(old, new)
    return [*lines[:i], json.dumps(line), *lines[i + 1 :]]


Attack = tuple[Callable[[list[str], list[str]], list[str]], str]
ATTACKS: dict[str, Attack] = {
    # audit.jsonl of the selection kind=access run=RUN (entries 4, 8; query 19), and of the
    # whole log, from which an attacker may take other genuine lines.
    "drop an entry": (
        lambda x, _: x[1:],
        "the export's 1 selected entries are not the 2 its query entry 19 recorded: entries "
        "were removed from, added to or swapped in the selection",
    ),
    "add a genuine entry": (
        lambda x, full: [x[0], full[6], *x[1:]],
        "the export's 3 selected entries are not the 2 its query entry 19 recorded",
    ),
    "swap in a genuine entry": (
        lambda x, full: [full[3], *x[1:]],
        "the export's 2 selected entries are not the 2 its query entry 19 recorded",
    ),
    "edit an entry": (
        lambda x, _: _edit_entry(x, 1, '"rows":"614"', '"rows":"61"'),
        "entry 8 was altered: its content hashes to",
    ),
    "drop the query entry": (
        lambda x, _: x[:-1],
        "the export's query entry 19, which records who exported it and what they selected, "
        "is not the last line of audit.jsonl",
    ),
    "reorder": (
        lambda x, _: [x[1], x[0], x[2]],
        "line 2 of audit.jsonl holds entry 4, after entry 8: a selection lists entries in "
        "increasing order, below 20",
    ),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_edited_selection_fails_verification(
    attack: str, log: AuditLog, signer: LocalEd25519Signer, tmp_path: Path
) -> None:
    out = tmp_path / "sel"
    assert _export(log, signer, out, kinds=["access"], run=RUN) == [4, 8]
    full = [json.dumps(line) for line in _proof_lines_of_everything(log, out)]
    change, message = ATTACKS[attack]
    (out / "audit.jsonl").write_text("\n".join(change(_lines(out), full)) + "\n")
    with pytest.raises(AuditVerificationError, match=re.escape(message)):
        verify_export(out, signer.public_key_pem())


def _proof_lines_of_everything(log: AuditLog, out: Path) -> list[dict[str, object]]:
    """Genuine proof lines of every entry against the selection's own checkpoint."""
    from samdops.audit.export import _line

    size = json.loads(_lines(out)[0])["tree_size"]
    return [_line(log, seq, size) for seq in range(size)]


def test_an_edited_filter_or_a_missing_header_fails_verification(
    log: AuditLog, signer: LocalEd25519Signer, tmp_path: Path
) -> None:
    out = tmp_path / "sel"
    _export(log, signer, out, kinds=["access"], run=RUN)
    header_path = out / SELECTION_FILE
    header = json.loads(header_path.read_text())
    header_path.write_text(json.dumps({**header, "filter": {"kind": "access", "run": OTHER}}))
    with pytest.raises(AuditVerificationError) as info:
        verify_export(out, signer.public_key_pem())
    assert str(info.value) == (
        f"the export's filter (kind=access run={OTHER}) is not the one its query entry 19 "
        f"recorded (kind=access run={RUN})"
    )
    header_path.write_text(json.dumps({**header, "filter": {"since": "yesterday"}}))
    with pytest.raises(AuditVerificationError) as info:
        verify_export(out, signer.public_key_pem())
    assert str(info.value) == (
        "selection.json of the export is malformed: --since 'yesterday' is not an RFC 3339 "
        "time; give e.g. 2026-01-31T12:00:00Z"
    )
    header_path.unlink()  # passed off as the whole log
    with pytest.raises(AuditVerificationError, match="entry 0 records sequence number 4"):
        verify_export(out, signer.public_key_pem())


def test_bad_filter_values_are_one_clear_line() -> None:
    cases = {
        "since": (
            {"since": "2026-01-31 12:00"},
            "--since '2026-01-31 12:00' is not an RFC 3339 time; give e.g. 2026-01-31T12:00:00Z",
        ),
        "no zone": (
            {"until": "2026-01-31T12:00:00"},
            "--until '2026-01-31T12:00:00' is not an RFC 3339 time; give e.g. 2026-01-31T12:00:00Z",
        ),
        "no such day": (
            {"since": "2026-02-30T00:00:00Z"},
            "--since '2026-02-30T00:00:00Z' is not an RFC 3339 time; give e.g. "
            "2026-01-31T12:00:00Z",
        ),
        "range": (
            {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00+01:00"},
            "--since 2026-02-01T00:00:00.000Z is after --until 2025-12-31T23:00:00.000Z; swap "
            "them to select a time range",
        ),
        "kind": (
            {"kinds": ["acess"]},
            "--kind 'acess' is not a kind of event; use one of access, change, execution, security",
        ),
        "actor": (
            {"actor": "eve\nmallory"},
            "--actor must be one line of printable text, e.g. alice or os:carol",
        ),
        "run": ({"run": " "}, "--run must be one line of printable text, e.g. "),
    }
    for case, (args, message) in cases.items():
        with pytest.raises(ConfigError) as info:
            Selection.parse(**args)  # type: ignore[arg-type]
        assert str(info.value).startswith(message), case


def test_times_with_offsets_and_fractions_are_utc() -> None:
    selection = Selection.parse(since="2026-01-31T13:00:00.5+01:00", until="2026-01-31T12:00:01Z")
    assert selection.filters() == {
        "since": "2026-01-31T12:00:00.500Z",
        "until": "2026-01-31T12:00:01.000Z",
    }
    assert Selection.from_filters(selection.filters()) == selection


def test_the_trace_pairs_steps_and_collects_reads(log: AuditLog) -> None:
    trace = run_trace(log.entries(), OTHER)
    assert [(s.step, s.outcome, s.error_class) for s in trace.steps] == [
        ("ingest", "success", None),
        ("train", "failure", "ValueError"),
    ]
    ingest = trace.steps[0]
    assert ingest.inputs == (("csv", D["a"]),) and ingest.outputs == (("data", D["b"]),)
    assert ingest.image == IMAGE and ingest.entries == (11, 14)
    assert [(r.dataset, r.digest, r.rows, r.purpose) for r in trace.data_reads] == [
        ("pima", D["a"], "768", "ingest"),
        ("pima/train", D["b"], "614", "train"),
    ]
    assert [(s.component, s.path, s.vault_request_id) for s in trace.secret_reads] == [
        ("ingest", "kv/samdops/s3", "req-1")
    ]
    assert [r.seq for r in trace.others] == [10]  # the launch


def test_the_reports_show_the_run_trace(
    log: AuditLog, signer: LocalEd25519Signer, tmp_path: Path
) -> None:
    out = tmp_path / "sel"
    _export(log, signer, out, run=OTHER)
    text = (out / "report.txt").read_text()
    assert f"run trace: {OTHER}\nsteps (2):\n  step ingest: success\n" in text
    assert "  step train: failure (ValueError)\n" in text
    assert f"    image:   {IMAGE}\n    inputs:  train={D['b']}\n    outputs: -\n" in text
    assert f"read pima/train {D['b']} rows 614 purpose train -> success" in text
    assert "  #13 " in text and " ingest read kv/samdops/s3 vault request req-1 -> success" in text
    page = (out / "report.html").read_text()
    assert f"<h2>Run trace: <code>{OTHER}</code></h2>" in page
    assert "<td>train</td>" in page and "<td>ValueError</td>" in page
    assert f"<td>{IMAGE}</td>" in page and f"<td>csv={D['a']}</td>" in page
    assert "<td>kv/samdops/s3</td><td>req-1</td>" in page


HOSTILE = '</td><script>alert(1)</script><img src=x onerror="alert(2)">\n#99 fake\u202e'


def test_hostile_text_in_a_trace_is_escaped_in_both_reports(
    tmp_path: Path, signer: LocalEd25519Signer
) -> None:
    log = AuditLog.open(tmp_path / "audit", signer=signer)
    source = Source(SourceKind.PIPELINE_RUN, RUN)
    inputs = {HOSTILE: D["a"]}
    for draft in [
        step_started(PIPELINE, "ingest", RUN, image=HOSTILE, inputs=inputs),
        data_read(PIPELINE, "pima", D["a"], rows=1, purpose=Purpose.INGEST, source=source),
        secret_read("ingest</td><script>", "kv/x", source=source, vault_request_id=HOSTILE),
        step_ended(PIPELINE, "ingest", RUN, image=HOSTILE, inputs=inputs, outputs={}),
        EventDraft(
            actor=Actor(HOSTILE, AuthMethod.PASSWORD),
            action=Action.MODIFY,
            target=Target("model/pima", "1"),
            source=source,
            outcome=Outcome.FAILURE,
            reason=HOSTILE,
            details={HOSTILE: HOSTILE, "run": RUN},
        ),
    ]:
        log.append(draft)
    out = tmp_path / "sel"
    _export(log, signer, out, run=RUN)
    page = (out / "report.html").read_text()
    assert "<script" not in page and "<img" not in page and 'onerror="' not in page
    assert "\u202e" not in page and "\n#99" not in page
    shown = html.escape('</td><script>alert(1)</script><img src=x onerror="alert(2)">')
    assert page.count(shown + "\\n#99 fake\\u202e") >= 6  # image, input, vault id, actor, ...
    assert "default-src 'none'" in page
    text = (out / "report.txt").read_text()
    assert all(line.isprintable() for line in text.splitlines())
    assert not any(line.startswith("#99") for line in text.splitlines())
