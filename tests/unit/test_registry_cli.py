"""`samdops registry list|show` by a named user: signed in, authorized, audited as a query."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from samdops.audit.entry import AuditRecord
from samdops.audit.event import Action, AuthMethod, EventKind, Outcome
from samdops.governance.launch import os_account
from samdops.governance.service import GovernedRegistry
from tests.cli_helpers import cli_in_process
from tests.governed import MODEL_BYTES, PASSWORDS, staffed_registry
from tests.governed import model_fields as _fields


@pytest.fixture
def gov(home: Path) -> GovernedRegistry:
    registry = staffed_registry(home)
    registry.register_model("pima", _fields(), trained_by="eve", run="run-1")
    return registry


def _new(gov: GovernedRegistry, start: int) -> list[AuditRecord]:
    return list(gov.audit.entries(start))


def test_a_listing_by_a_signed_in_user_is_a_query_event(
    gov: GovernedRegistry, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    start = len(gov.audit)
    status, out, err = cli_in_process(
        capsys, monkeypatch, PASSWORDS["max"] + "\n",
        "registry", "list", "--json", "--user", "max", "--password-stdin",
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert [m["id"] for m in json.loads(out)] == ["pima@1"]
    (record,) = _new(gov, start)
    event = record.event
    assert (event.action, event.outcome, event.kind, event.actor.id, event.actor.auth) == (
        Action.QUERY,
        Outcome.SUCCESS,
        EventKind.ACCESS,
        "max",
        AuthMethod.PASSWORD,
    )
    assert event.target.id == "query/registry/models"
    assert (event.source.ref, event.detail_map()) == ("samdops registry list", {"results": "1"})


def test_a_show_records_the_model_asked_for(
    gov: GovernedRegistry, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    start = len(gov.audit)
    status, out, err = cli_in_process(
        capsys, monkeypatch, PASSWORDS["quinn"] + "\n",
        "registry", "show", "pima", "--user", "quinn", "--password-stdin",
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert out.splitlines()[-1] == "state: validated"
    (record,) = _new(gov, start)
    assert record.event.source.ref == "samdops registry show"
    assert record.event.detail_map() == {"filter.model": "pima", "results": "1"}


def test_a_user_administrator_may_not_read_the_registry(
    gov: GovernedRegistry, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    start = len(gov.audit)
    status, out, err = cli_in_process(
        capsys, monkeypatch, PASSWORDS["admin"] + "\n",
        "registry", "show", "pima@1", "--user", "admin", "--password-stdin",
    )  # fmt: skip
    message = (
        "user 'admin' (roles: user-admin) may not read-registry; ask a user whose role grants it"
    )
    assert (status, out, err) == (2, "", f"samdops: error: {message}\n")
    (record,) = _new(gov, start)
    assert (record.event.action, record.event.outcome, record.event.actor.id) == (
        Action.QUERY,
        Outcome.DENIED,
        "admin",
    )
    assert record.event.detail_map() == {
        "filter.model": "pima@1",
        "permission": "read-registry",
        "error": message,
    }


def test_without_user_a_state_with_users_is_not_read(
    gov: GovernedRegistry, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "eve")  # the OS account comes from the uid, never from $USER
    start = len(gov.audit)
    status, out, err = cli_in_process(capsys, monkeypatch, "", "registry", "list")
    assert (status, out, err) == (
        2,
        "",
        "samdops: error: this state location has users: sign in to read "
        "(--user ID --password-stdin)\n",
    )
    (record,) = _new(gov, start)
    assert (record.event.outcome, record.event.actor.id, record.event.actor.auth) == (
        Outcome.DENIED,
        f"os:{os_account()}",
        AuthMethod.LOCAL_OS_USER,
    )


def test_a_wrong_password_is_one_line_and_audited(
    gov: GovernedRegistry, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    start = len(gov.audit)
    status, out, err = cli_in_process(
        capsys, monkeypatch, "not-quinns-password\n",
        "registry", "list", "--user", "quinn", "--password-stdin",
    )  # fmt: skip
    assert (status, out, err) == (
        2,
        "",
        "samdops: error: authentication failed for 'quinn'; 2 attempt(s) left\n",
    )
    failure = _new(gov, start)[-1].event
    assert (failure.action, failure.outcome, failure.source.ref) == (
        Action.SIGNING_FAILURE,
        Outcome.DENIED,
        "samdops registry list",
    )
    assert not [r for r in _new(gov, start) if r.event.action == Action.QUERY]


def test_no_password_without_a_terminal_is_one_line(
    gov: GovernedRegistry, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, err = cli_in_process(capsys, monkeypatch, "", "registry", "list", "--user", "eve")
    assert (status, out) == (2, "")
    assert err == ("samdops: error: no terminal to ask for the password; use --password-stdin\n")


def test_before_any_user_the_os_account_reads_and_is_recorded(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    gov = GovernedRegistry(home, sinks=[])
    gov.registry.store.put_bytes(MODEL_BYTES)
    gov.register_model("pima", _fields(), trained_by=f"os:{os_account()}", run="run-1")
    start = len(gov.audit)
    status, out, err = cli_in_process(capsys, monkeypatch, "", "registry", "show", "pima@1")
    assert (status, err) == (0, "")
    assert "state: validated" in out
    (record,) = _new(gov, start)
    assert (record.event.action, record.event.outcome, record.event.actor.id) == (
        Action.QUERY,
        Outcome.SUCCESS,
        f"os:{os_account()}",
    )
    assert record.event.actor.auth == AuthMethod.LOCAL_OS_USER


def test_an_empty_registry_listing_is_audited_with_zero_results(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, err = cli_in_process(capsys, monkeypatch, "", "registry", "list")
    assert (status, out, err) == (0, "no models registered yet; run `samdops run train`\n", "")
    (record,) = GovernedRegistry(home, sinks=[]).audit.entries()
    assert (record.event.action, record.event.detail_map()) == (Action.QUERY, {"results": "0"})
