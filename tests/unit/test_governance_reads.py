"""Reads by people (issue 18, AC-02): every role x every read permission through the real
service; a refusal raises one line and is audited as a denied query; sign-in failures are
audited as they are for signing; the system's own reads stay unchecked and unaudited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from samdops.audit.entry import AuditRecord
from samdops.audit.event import Action, AuthMethod, EventKind, Outcome
from samdops.errors import AccessDenied, AuthenticationFailed, RegistryError
from samdops.governance.identity import UserKind
from samdops.governance.launch import os_account
from samdops.governance.roles import MATRIX, READS, Permission, Role
from samdops.governance.service import REGISTRY_QUERY, GovernedRegistry, Reader
from tests.governed import MODEL_BYTES
from tests.governed import model_fields as _fields

ADMIN_PW = "admin-password-1"
PW = "reader-password-1"
# Who may read what, stated apart from MATRIX (the whole matrix is in test_governance.py).
MAY_READ = {
    Role.DATA_STEWARD: {"read-registry", "read-data"},
    Role.ML_ENGINEER: {"read-registry", "read-data"},
    Role.QA_REVIEWER: {"read-registry", "read-audit"},
    Role.RELEASE_MANAGER: {"read-registry", "export-package"},
    Role.AUDITOR: {"read-registry", "read-audit", "export-audit"},
    Role.PIPELINE: {"read-registry", "read-data"},
    Role.DRIFT_MONITOR: {"read-registry", "read-data"},
    Role.USER_ADMIN: set(),
}
READ_PERMISSIONS = ["read-registry", "read-data", "read-audit", "export-audit", "export-package"]
SOURCE = "samdops test-read"


def _uid(role: Role) -> str:
    return f"r-{role.value}"


@pytest.fixture(scope="module")
def gov(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GovernedRegistry]:
    """One person per role (one with none, one disabled, one service account), one model."""
    registry = GovernedRegistry(tmp_path_factory.mktemp("reads") / "home", sinks=[])
    registry.registry.store.put_bytes(MODEL_BYTES)
    users = registry.users
    users.bootstrap_admin("admin", "Ada Admin", ADMIN_PW)
    admin = users.authenticate("admin", ADMIN_PW)
    people: dict[str, tuple[set[Role], UserKind]] = {
        **{_uid(role): ({role}, UserKind.PERSON) for role in Role},
        "nobody": (set(), UserKind.PERSON),
        "gone": ({Role.AUDITOR}, UserKind.PERSON),
        "svc-reader": ({Role.AUDITOR}, UserKind.SERVICE),
    }
    for user_id, (roles, kind) in people.items():
        users.add(admin, user_id, "A Reader", roles, kind=kind, temporary_password="t" * 12)
        users.change_password(user_id, "t" * 12, PW)
    users.disable(admin, "gone")
    registry.register_model("pima", _fields(), trained_by="r-ml-engineer", run="run-1")
    yield registry


def _after(gov: GovernedRegistry, start: int) -> list[AuditRecord]:
    return list(gov.audit.entries(start))


def test_the_read_permissions_are_the_ones_named_and_user_admin_reads_nothing() -> None:
    assert {p.value for p in READS} == set(READ_PERMISSIONS)
    assert not MATRIX[Role.USER_ADMIN] & READS


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_the_read_table_agrees_with_the_matrix(role: Role) -> None:
    assert {p.value for p in MATRIX[role] & READS} == MAY_READ[role]


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("permission", READ_PERMISSIONS)
def test_every_role_reads_only_what_it_may(
    gov: GovernedRegistry, role: Role, permission: str
) -> None:
    what = f"test/{permission}"
    filters = {"model": "pima@1", "window": "day-3"}
    reader = gov.sign_in_reader(_uid(role), PW, source=SOURCE)
    start = len(gov.audit)
    if permission in MAY_READ[role]:
        gov.authorize_read(reader, Permission(permission), what, source=SOURCE, filters=filters)
        gov.record_query(reader, what, source=SOURCE, filters=filters, results=7)
        (record,) = _after(gov, start)
        event = record.event
        assert (event.action, event.outcome, event.kind) == (
            Action.QUERY,
            Outcome.SUCCESS,
            EventKind.ACCESS,
        )
        assert event.detail_map() == {
            "filter.model": "pima@1",
            "filter.window": "day-3",
            "results": "7",
        }
    else:
        with pytest.raises(AccessDenied) as info:
            gov.authorize_read(reader, Permission(permission), what, source=SOURCE, filters=filters)
        message = (
            f"user '{_uid(role)}' (roles: {role.value}) may not {permission}; "
            "ask a user whose role grants it"
        )
        assert str(info.value) == message
        (record,) = _after(gov, start)
        event = record.event
        assert (event.action, event.outcome, event.kind) == (
            Action.QUERY,
            Outcome.DENIED,
            EventKind.SECURITY,
        )
        assert event.detail_map() == {
            "filter.model": "pima@1",
            "filter.window": "day-3",
            "permission": permission,
            "error": message,
        }
    assert (event.actor.id, event.actor.auth) == (_uid(role), AuthMethod.PASSWORD)
    assert event.target.id == f"query/{what}"
    assert (event.source.kind.value, event.source.ref) == ("cli", SOURCE)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_a_registry_listing_by_each_role(gov: GovernedRegistry, role: Role) -> None:
    reader = gov.sign_in_reader(_uid(role), PW, source=SOURCE)
    start = len(gov.audit)
    if "read-registry" in MAY_READ[role]:
        assert [m.record.id for m in gov.query_models(reader, source=SOURCE)] == ["pima@1"]
        assert gov.show(reader, "pima", source=SOURCE).record.id == "pima@1"
        listed, shown = _after(gov, start)
        assert listed.event.detail_map() == {"results": "1"}
        assert shown.event.detail_map() == {"filter.model": "pima", "results": "1"}
        assert {r.event.outcome for r in (listed, shown)} == {Outcome.SUCCESS}
        assert {r.event.target.id for r in (listed, shown)} == {f"query/{REGISTRY_QUERY}"}
    else:
        for read in (lambda: gov.query_models(reader), lambda: gov.show(reader, "pima@1")):
            with pytest.raises(AccessDenied, match=r"^user 'r-user-admin' \(roles: user-admin\)"):
                read()
        listed, shown = _after(gov, start)
        assert {r.event.outcome for r in (listed, shown)} == {Outcome.DENIED}
        assert shown.event.detail_map()["filter.model"] == "pima@1"


def test_a_user_with_no_roles_reads_nothing(gov: GovernedRegistry) -> None:
    reader = gov.sign_in_reader("nobody", PW, source=SOURCE)
    assert reader.roles == frozenset()
    start = len(gov.audit)
    for permission in READ_PERMISSIONS:
        with pytest.raises(AccessDenied) as info:
            gov.authorize_read(reader, Permission(permission), "test/x", source=SOURCE)
        assert str(info.value) == (
            f"user 'nobody' (roles: none) may not {permission}; ask a user whose role grants it"
        )
    denied = _after(gov, start)
    assert [r.event.detail_map()["permission"] for r in denied] == READ_PERMISSIONS
    assert {(r.event.action, r.event.outcome) for r in denied} == {(Action.QUERY, Outcome.DENIED)}


def test_a_disabled_user_cannot_sign_in_to_read(gov: GovernedRegistry) -> None:
    start = len(gov.audit)
    with pytest.raises(AuthenticationFailed) as info:
        gov.sign_in_reader("gone", PW, source=SOURCE)
    assert str(info.value) == "user 'gone' is disabled"
    (record,) = _after(gov, start)
    assert (record.event.action, record.event.outcome, record.event.actor.id) == (
        Action.SIGNING_FAILURE,
        Outcome.DENIED,
        "gone",
    )
    assert record.event.source.ref == SOURCE
    assert record.event.detail_map() == {"error": "user 'gone' is disabled"}


def test_a_wrong_password_is_refused_and_audited_as_a_sign_in_failure(
    gov: GovernedRegistry,
) -> None:
    start = len(gov.audit)
    with pytest.raises(AuthenticationFailed) as info:
        gov.sign_in_reader("r-auditor", "not-the-password", source=SOURCE)
    message = "authentication failed for 'r-auditor'; 2 attempt(s) left"
    assert str(info.value) == message
    records = _after(gov, start)
    # the counted attempt (a new version of the user), then the refusal
    assert [(r.event.action, r.event.outcome) for r in records] == [
        (Action.MODIFY, Outcome.SUCCESS),
        (Action.SIGNING_FAILURE, Outcome.DENIED),
    ]
    assert records[-1].event.detail_map() == {"error": message}
    assert records[-1].event.source.ref == SOURCE
    gov.sign_in_reader("r-auditor", PW, source=SOURCE)  # the right one clears the count


def test_an_unknown_user_is_refused_and_audited(gov: GovernedRegistry) -> None:
    start = len(gov.audit)
    with pytest.raises(AuthenticationFailed, match=r"^authentication failed for 'mallory'$"):
        gov.sign_in_reader("mallory", PW, source=SOURCE)
    (record,) = _after(gov, start)
    assert (record.event.action, record.event.actor.id) == (Action.SIGNING_FAILURE, "mallory")


def test_a_service_accounts_password_does_not_read_at_the_cli(gov: GovernedRegistry) -> None:
    reader = gov.sign_in_reader("svc-reader", PW, source=SOURCE)
    start = len(gov.audit)
    with pytest.raises(AccessDenied) as info:
        gov.query_models(reader, source=SOURCE)
    assert str(info.value) == "svc-reader is a service account; a person signs in to read"
    (record,) = _after(gov, start)
    assert (record.event.action, record.event.outcome) == (Action.QUERY, Outcome.DENIED)


def test_the_os_account_cannot_read_once_the_state_has_users(gov: GovernedRegistry) -> None:
    reader = gov.os_reader()
    assert reader == Reader(f"os:{os_account()}", AuthMethod.LOCAL_OS_USER, None)
    start = len(gov.audit)
    with pytest.raises(AccessDenied) as info:
        gov.query_models(reader, source=SOURCE)
    message = "this state location has users: sign in to read (--user ID --password-stdin)"
    assert str(info.value) == message
    (record,) = _after(gov, start)
    event = record.event
    assert (event.action, event.outcome, event.actor.id, event.actor.auth) == (
        Action.QUERY,
        Outcome.DENIED,
        f"os:{os_account()}",
        AuthMethod.LOCAL_OS_USER,
    )
    assert event.detail_map() == {"permission": "read-registry", "error": message}


def test_a_forged_reader_with_roles_is_still_checked_against_them(gov: GovernedRegistry) -> None:
    # A Reader is a value, not a credential: the check uses the roles it carries, so code that
    # builds one by hand gains only what those roles grant.
    forged = Reader("r-auditor", AuthMethod.PASSWORD, frozenset({Role.USER_ADMIN}))
    with pytest.raises(AccessDenied, match="may not read-registry"):
        gov.query_models(forged)


def test_the_os_account_reads_while_the_state_has_no_users(home: Path) -> None:
    gov = GovernedRegistry(home, sinks=[])
    gov.registry.store.put_bytes(MODEL_BYTES)
    gov.register_model("pima", _fields(), trained_by="os:someone", run="run-1")
    start = len(gov.audit)
    assert [m.record.id for m in gov.query_models(gov.os_reader())] == ["pima@1"]
    (record,) = _after(gov, start)
    assert (record.event.action, record.event.outcome, record.event.actor) == (
        Action.QUERY,
        Outcome.SUCCESS,
        gov.os_reader().actor,
    )
    assert record.event.source.ref == "samdops registry list"
    assert gov.audit.latest_checkpoint().size == len(gov.audit)  # covered when it returns


def test_a_lookup_that_finds_nothing_is_audited_as_a_failure(gov: GovernedRegistry) -> None:
    reader = gov.sign_in_reader("r-qa-reviewer", PW, source=SOURCE)
    start = len(gov.audit)
    with pytest.raises(RegistryError) as info:
        gov.show(reader, "nope@1", source=SOURCE)
    assert str(info.value) == "no model named 'nope' in the registry; known: pima"
    (record,) = _after(gov, start)
    assert (record.event.action, record.event.outcome) == (Action.QUERY, Outcome.FAILURE)
    assert record.event.detail_map() == {
        "filter.model": "nope@1",
        "results": "0",
        "error": "no model named 'nope' in the registry; known: pima",
    }


def test_a_huge_reference_is_clipped_in_the_event_not_refused_unaudited(
    gov: GovernedRegistry,
) -> None:
    reader = gov.sign_in_reader("r-qa-reviewer", PW, source=SOURCE)
    start = len(gov.audit)
    with pytest.raises(RegistryError):
        gov.show(reader, "x" * 100_000, source=SOURCE)
    (record,) = _after(gov, start)
    assert record.event.detail_map()["filter.model"] == "x" * 1000


def test_the_systems_own_reads_need_no_reader_and_write_nothing(gov: GovernedRegistry) -> None:
    start = len(gov.audit)
    assert [m.record.id for m in gov.models()] == ["pima@1"]
    assert gov.get("pima@1").record.id == "pima@1"
    assert len(gov.audit) == start
