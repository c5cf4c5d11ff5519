"""`samdops doctor` against a real OpenBao and a real S3 server (moto), as a user runs it.

The state is on S3 with Object Lock retention, the Transit key signs, and an S3 witness anchors
the log; then Vault, then S3, is made unreachable and the doctor says so on one line while the
other checks are still reported.
"""

from __future__ import annotations

from typing import Any

import pytest

from samdops.audit.anchor import anchor_sinks
from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Source, SourceKind, Target
from samdops.audit.log import AuditLog
from samdops.audit.store import state_entry_store
from samdops.governance.identity import AUDIT_KEY_NAME
from samdops.governance.keys import platform_signer
from samdops.store.state import open_state
from tests.integration.conftest import S3State, free_port

CHECKS = ["state", "vault", "s3", "keys", "audit", "anchor", "anchor"]


@pytest.fixture
def doctored(s3_state: S3State, monkeypatch: pytest.MonkeyPatch) -> S3State:
    """An S3 state with three entries signed by the Transit key, witnessed on S3 too."""
    extra = {
        "SAMDOPS_S3_RETENTION_DAYS": "1",
        "SAMDOPS_AUDIT_WITNESS": f"s3://{s3_state.bucket}/witness",
    }
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    s3_state.env.update(extra)
    state = open_state()
    log = AuditLog(
        state_entry_store(state),
        signer=platform_signer(state, AUDIT_KEY_NAME),
        sinks=anchor_sinks(),
    )
    for n in range(3):
        log.append(
            EventDraft(
                actor=Actor("rhea", AuthMethod.PASSWORD_OTP),
                action=Action.STATE_CHANGE,
                target=Target("pima-diabetes-onset", str(n)),
                source=Source(SourceKind.CLI, "samdops promote"),
                details={"to": "approved"},
            )
        )
        log.checkpoint()
    assert not log.sink_failures
    return s3_state


def run(state: S3State, **env: str) -> tuple[int, list[str], dict[str, str]]:
    state.env.update(env)
    done = state.samdops("doctor", "--timeout", "20", timeout=120)
    lines = done.stdout.splitlines()
    return done.returncode, lines, {x.split(":")[0]: x for x in lines}


def test_every_check_passes_on_a_healthy_deployment(doctored: S3State, vault_server: Any) -> None:
    status, lines, by = run(doctored)
    assert status == 0, done_text(lines)
    assert [x.split(":")[0] for x in lines] == CHECKS
    location, bucket = doctored.location, doctored.bucket
    assert by["state"] == f"state: ok {location} (on S3: see s3)"
    assert (
        by["vault"] == f"vault: ok logged in to Vault at {vault_server.addr} with the given token"
    )
    endpoint = doctored.env["SAMDOPS_S3_ENDPOINT"]
    assert by["s3"] == f"s3: ok {location} at {endpoint} answers, Object Lock retention 1 day"
    assert by["keys"].startswith(
        "keys: ok Vault Transit key transit/samdops-audit v1 (ed25519, not exportable) signs "
        "checkpoints and e-signatures; key id sha256:"
    )
    assert by["audit"].startswith(f"audit: ok 3 entries at {location}/audit, checkpoint at size 3")
    assert [x for x in lines if x.startswith("anchor")] == [
        f"anchor: ok witness s3://{bucket}/witness: checkpoint at size 3 matches the log",
        f"anchor: ok S3 WORM copy {location}/audit: checkpoint at size 3 matches the log",
    ]
    assert vault_server.root_token not in "\n".join(lines)


def test_an_unreachable_vault_is_one_failure_and_the_rest_is_still_reported(
    doctored: S3State,
) -> None:
    addr = f"http://127.0.0.1:{free_port()}"
    status, lines, by = run(doctored, VAULT_ADDR=addr)
    assert status == 1
    assert [x.split(":")[0] for x in lines] == CHECKS[:-1]
    assert [x for x in lines if ": FAIL " in x] == [by["vault"]]
    assert by["vault"] == (
        f"vault: FAIL cannot log in to Vault at {addr}: Vault is unreachable (Connection "
        "refused) (gave up after 4 attempts); check VAULT_ADDR and the Vault credentials "
        "(VAULT_TOKEN, VAULT_ROLE_ID and VAULT_SECRET_ID, or SAMDOPS_VAULT_ROLE)"
    )
    assert by["state"].startswith("state: ok ")
    assert by["s3"] == (
        "s3: skipped the S3 credentials come from Vault, and the vault check did not pass "
        "(see vault)"
    )
    assert by["keys"].startswith("keys: skipped the Transit key is in Vault")
    assert by["audit"].startswith("audit: skipped ")
    assert by["anchor"].startswith("anchor: skipped ")


def test_an_unreachable_s3_endpoint_fails_the_s3_check(doctored: S3State) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    status, _, by = run(doctored, SAMDOPS_S3_ENDPOINT=endpoint)
    assert status == 1
    assert by["s3"].startswith(
        f"s3: FAIL cannot reach s3://{doctored.bucket}: the S3 endpoint {endpoint} is "
        "unreachable (connection refused); gave up after 4 attempt(s)"
    )
    assert by["s3"].endswith(
        "; check SAMDOPS_S3_ENDPOINT, the bucket, and the S3 credentials in the secrets backend"
    )
    assert by["vault"].startswith("vault: ok ")
    assert by["keys"].startswith("keys: ok Vault Transit key")
    assert by["audit"] == "audit: skipped the log is on S3, and the s3 check did not pass (see s3)"


def test_a_missing_bucket_and_a_missing_transit_key_are_named(doctored: S3State) -> None:
    status, _, by = run(
        doctored,
        SAMDOPS_STATE="s3://samdops-no-such-bucket/state",
        SAMDOPS_TRANSIT_KEY="no-such-key",
    )
    assert status == 1
    assert by["s3"].startswith(
        "s3: FAIL bucket samdops-no-such-bucket does not exist at "
        f"{doctored.env['SAMDOPS_S3_ENDPOINT']}"
    )
    assert by["keys"] == (
        "keys: FAIL cannot read Transit key transit/no-such-key: no such key (run `samdops "
        "vault bootstrap`)"
    )


def done_text(lines: list[str]) -> str:
    return "\n".join(lines)


def test_a_state_on_s3_without_vault_fails_the_keys_check(
    doctored: S3State, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from samdops.secrets import env_var_name

    credentials = {
        env_var_name("samdops/s3", "access_key"): s3_server.access_key,
        env_var_name("samdops/s3", "secret_key"): s3_server.secret_key,
    }
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "SAMDOPS_VAULT_AUTH"):
        doctored.env.pop(name)
        monkeypatch.delenv(name)
    status, _, by = run(doctored, **credentials)
    assert status == 1
    assert by["vault"].startswith("vault: not configured ")
    assert by["s3"].startswith("s3: ok ")  # the credentials came from the environment
    assert by["keys"] == (
        f"keys: FAIL the state location {doctored.location} is shared by every step, so its "
        "signing key must be too: set VAULT_ADDR so that the Vault Transit key signs"
    )
    assert by["audit"].startswith("audit: skipped ")
