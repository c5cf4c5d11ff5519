"""``samdops audit export`` with filters, by a named reader: every read of the audit log is on
the record as a ``query`` event, a refused read is on the record as denied, and ``verify`` stays
usable offline without a user."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from samdops.audit.activity import Purpose, data_read, step_ended, step_started
from samdops.audit.entry import AuditRecord
from samdops.audit.event import (
    Action,
    Actor,
    AuthMethod,
    EventKind,
    Outcome,
    Source,
    SourceKind,
)
from samdops.audit.log import AuditLog
from samdops.governance.launch import os_account
from samdops.governance.roles import Role
from samdops.governance.service import GovernedRegistry
from tests.cli_helpers import cli_in_process
from tests.governed import PASSWORDS, staffed_registry

RUN = "samdops-train-20260131-120000"
PIPELINE = Actor("svc:samdops-pipeline", AuthMethod.SERVICE_ACCOUNT_TOKEN)
DIGEST = "sha256:" + "a" * 64
IMAGE = "registry.local/samdops@sha256:" + "9" * 64
AUDITOR, REVIEWER = "max", "quinn"  # max is given the auditor role here


def _record_a_run(log: AuditLog) -> None:
    source = Source(SourceKind.PIPELINE_RUN, RUN)
    with log.covered():
        log.append(step_started(PIPELINE, "ingest", RUN, image=IMAGE, inputs={"csv": DIGEST}))
        log.append(
            data_read(PIPELINE, "pima", DIGEST, rows=768, purpose=Purpose.INGEST, source=source)
        )
        log.append(
            step_ended(
                PIPELINE, "ingest", RUN, image=IMAGE, inputs={"csv": DIGEST}, outputs={"d": DIGEST}
            )
        )


@pytest.fixture
def staffed(home: Path) -> GovernedRegistry:
    registry = staffed_registry(
        home, {AUDITOR: {Role.AUDITOR}, REVIEWER: {Role.QA_REVIEWER}, "eve": {Role.ML_ENGINEER}}
    )
    _record_a_run(registry.audit)
    return registry


def _export(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    out: Path,
    *args: str,
    user: str | None = None,
    password: str | None = None,
) -> tuple[int, str, str]:
    login = ("--user", user, "--password-stdin") if user else ()
    stdin = (password or PASSWORDS.get(user or "", "")) + "\n"
    return cli_in_process(
        capsys, monkeypatch, stdin, "audit", "export", "--out", str(out), *args, *login
    )


def _last(home: Path) -> AuditRecord:
    log = AuditLog.open(home / "audit")
    return log.record(len(log) - 1)


def test_an_auditor_exports_a_run_and_the_read_is_on_the_record(
    staffed: GovernedRegistry,
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "export"
    status, stdout, err = _export(
        capsys, monkeypatch, out, "--run", RUN, "--kind", "execution", user=AUDITOR
    )
    log = AuditLog.open(home / "audit")
    query = log.record(len(log) - 1)
    assert (status, err) == (0, "")
    assert stdout == f"exported 2 of {len(log)} entries (kind=execution run={RUN}) to {out}\n"
    event = query.event
    assert (event.action, event.kind, event.outcome) == (
        Action.QUERY,
        EventKind.ACCESS,
        Outcome.SUCCESS,
    )
    assert event.actor == Actor(AUDITOR, AuthMethod.PASSWORD)
    assert event.source == Source(SourceKind.CLI, "samdops audit export")
    assert event.detail_map()["filter.run"] == RUN and event.detail_map()["results"] == "2"
    header = json.loads((out / "selection.json").read_text())
    assert header["filter"] == {"kind": "execution", "run": RUN}
    assert header["query_entry"] == query.seq
    report = (out / "report.txt").read_text()
    assert f"selection:   kind=execution run={RUN} (a selection, not the whole log)\n" in report
    assert f"exported by: {AUDITOR} (password), entry {query.seq}\n" in report
    assert "  step ingest: success\n" in report

    # verify needs no user and writes nothing: an auditor with only the public key
    key = tmp_path / "trusted.pem"
    key.write_bytes(out.joinpath("public-key.pem").read_bytes())
    size = len(log)
    status, stdout, _ = cli_in_process(
        capsys, monkeypatch, "", "audit", "verify", "--export", str(out), "--public-key", str(key)
    )
    assert status == 0
    assert stdout.startswith(
        f"export OK: a selection of 2 of {size} entries (kind=execution run={RUN}, as query "
        f"entry {query.seq} recorded) included in checkpoint sha256:"
    )
    assert len(AuditLog.open(home / "audit")) == size


def test_a_role_that_may_not_export_is_refused_and_the_refusal_is_audited(
    staffed: GovernedRegistry,
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "export"
    for user, roles in ((REVIEWER, "qa-reviewer"), ("eve", "ml-engineer")):
        status, stdout, err = _export(capsys, monkeypatch, out, "--run", RUN, user=user)
        assert (status, stdout) == (2, "")
        assert err == (
            f"samdops: error: user {user!r} (roles: {roles}) may not export-audit; "
            "ask a user whose role grants it\n"
        )
        event = _last(home).event
        assert event.action == Action.QUERY and event.outcome == Outcome.DENIED
        assert event.target.id == "query/audit/export"
        assert event.actor == Actor(user, AuthMethod.PASSWORD)
        details = event.detail_map()
        assert details["filter.run"] == RUN and details["error"] == err.removeprefix(
            "samdops: error: "
        ).removesuffix("\n")
    assert not out.exists()


def test_a_wrong_password_is_refused_and_audited(
    staffed: GovernedRegistry,
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, _, err = _export(
        capsys, monkeypatch, tmp_path / "x", user=AUDITOR, password="not-the-password"
    )
    assert status == 2
    assert err == (f"samdops: error: authentication failed for {AUDITOR!r}; 2 attempt(s) left\n")
    event = _last(home).event
    assert (event.action, event.outcome) == (Action.SIGNING_FAILURE, Outcome.DENIED)
    assert event.source.ref == "samdops audit export"


def test_without_a_user_once_users_exist_the_read_is_refused_and_audited(
    staffed: GovernedRegistry,
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, stdout, err = _export(capsys, monkeypatch, tmp_path / "x", "--kind", "access")
    assert (status, stdout) == (2, "")
    assert err == (
        "samdops: error: this state location has users: sign in to read "
        "(--user ID --password-stdin)\n"
    )
    event = _last(home).event
    assert event.actor == Actor(f"os:{os_account()}", AuthMethod.LOCAL_OS_USER)
    assert event.outcome == Outcome.DENIED
    assert event.detail_map()["filter.kind"] == "access"


def test_before_any_user_the_os_account_reads(
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = GovernedRegistry(home, sinks=[])
    _record_a_run(registry.audit)
    status, stdout, _ = _export(capsys, monkeypatch, tmp_path / "x", "--target", "dataset/")
    assert (
        status == 0 and stdout == f"exported 1 of 4 entries (target=dataset/) to {tmp_path / 'x'}\n"
    )
    last = _last(home)
    event = last.event
    assert last.seq == 3
    assert event.actor == Actor(f"os:{os_account()}", AuthMethod.LOCAL_OS_USER)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--since", "last tuesday"),
            "--since 'last tuesday' is not an RFC 3339 time; give e.g. 2026-01-31T12:00:00Z",
        ),
        (
            ("--until", "2026-01-31T25:00:00Z"),
            "--until '2026-01-31T25:00:00Z' is not an RFC 3339 time; give e.g. "
            "2026-01-31T12:00:00Z",
        ),
        (
            ("--kind", "execution", "--kind", "secret"),
            "--kind 'secret' is not a kind of event; use one of access, change, execution, "
            "security",
        ),
        (("--target", ""), "--target must be one line of printable text, e.g. dataset/ or "),
    ],
)
def test_bad_filters_are_one_line_and_nothing_is_written(
    args: tuple[str, ...],
    message: str,
    staffed: GovernedRegistry,
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = len(AuditLog.open(home / "audit"))
    status, stdout, err = _export(capsys, monkeypatch, tmp_path / "x", *args, user=AUDITOR)
    assert (status, stdout) == (2, "")
    assert err.startswith(f"samdops: error: {message}") and err.count("\n") == 1
    assert len(AuditLog.open(home / "audit")) == before  # refused before any sign-in
