"""Secret reads reported for the audit trail: the record, the recording, VaultSecrets' part, and
the bootstrap command's choice of Vault audit file (offline)."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from samdops.cli import main
from samdops.secrets import EnvSecrets, Secret, SecretRead, SecretValues, read_keys, recording
from samdops.secrets.reads import report
from samdops.secrets.vault import AppRoleAuth, TokenAuth, VaultSecrets

VALUE = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REQUEST_ID = "ed78c685-df7c-478d-cbaa-907ea9b63571"


def _read(path: str = "samdops/s3", request_id: str = REQUEST_ID) -> SecretRead:
    return SecretRead(
        path=path,
        vault_path=path.replace("/", "/data/", 1),
        component="samdops-train",
        request_id=request_id,
        backend="Vault at http://127.0.0.1:8200",
    )


def _kv_response(data: dict[str, Any]) -> dict[str, Any]:
    """What Vault answers to GET /v1/samdops/data/s3 (hvac's JSON adapter), abridged."""
    return {
        "request_id": REQUEST_ID,
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": {
            "data": data,
            "metadata": {
                "created_time": "2026-12-04T18:14:43.644348293Z",
                "custom_metadata": None,
                "deletion_time": "",
                "destroyed": False,
                "version": 1,
            },
        },
        "wrap_info": None,
        "warnings": None,
        "auth": None,
    }


def _offline_vault(auth: Any, response: dict[str, Any]) -> tuple[VaultSecrets, list[str]]:
    """VaultSecrets whose hvac client answers ``response`` to KV reads, with no server."""
    vault = VaultSecrets("http://127.0.0.1:8200", auth)
    asked: list[str] = []

    def read_secret_version(path: str, mount_point: str, **_: Any) -> dict[str, Any]:
        asked.append(f"{mount_point}/{path}")
        return response

    login = {"auth": {"lease_duration": 3600, "renewable": True}}
    vault._client = SimpleNamespace(  # type: ignore[assignment]
        token="",
        secrets=SimpleNamespace(
            kv=SimpleNamespace(v2=SimpleNamespace(read_secret_version=read_secret_version))
        ),
        auth=SimpleNamespace(
            token=SimpleNamespace(lookup_self=lambda: {"data": {"ttl": 0, "renewable": False}}),
            approle=SimpleNamespace(login=lambda **_: login),
        ),
    )
    return vault, asked


def test_a_vault_read_exposes_and_reports_its_request_id() -> None:
    auth = AppRoleAuth(Secret("role-id"), Secret("secret-id"), role="samdops-register")
    vault, asked = _offline_vault(auth, _kv_response({"access_key": "AK", "secret_key": VALUE}))
    with recording() as reads:
        values = read_keys(vault, "samdops/s3", "access_key", "secret_key")
    assert asked == ["samdops/s3"]
    assert values["secret_key"].reveal() == VALUE
    expected = SecretRead(
        path="samdops/s3",
        vault_path="samdops/data/s3",
        component="samdops-register",
        request_id=REQUEST_ID,
        backend="Vault at http://127.0.0.1:8200",
    )
    assert isinstance(values, SecretValues)
    assert values.read == expected
    assert reads.take() == (expected,)
    assert reads.take() == ()  # each read is handed out once


def test_a_given_token_reads_as_samdops_unless_a_component_is_named() -> None:
    vault, _ = _offline_vault(TokenAuth(Secret("root-token")), _kv_response({"k": "v"}))
    assert vault.component == "samdops"
    assert vault.read("samdops/s3").read == dataclasses.replace(_read(), component="samdops")
    named = VaultSecrets("http://127.0.0.1:8200", TokenAuth(Secret("t")), component="svc-x")
    assert named.component == "svc-x"


def test_a_read_record_and_its_values_never_hold_the_secret() -> None:
    vault, _ = _offline_vault(TokenAuth(Secret("root-token")), _kv_response({"secret_key": VALUE}))
    with recording() as reads:
        values = vault.read("samdops/s3")
    assert {f.name for f in dataclasses.fields(SecretRead)} == {
        "path",
        "vault_path",
        "component",
        "request_id",
        "backend",
    }
    for text in (repr(values), str(values), repr(reads.take()), repr(values.read)):
        assert VALUE not in text
    assert repr(values).startswith("SecretValues(keys=['secret_key'], read=SecretRead(")
    with pytest.raises(TypeError):
        values["secret_key"] = Secret("replaced")  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        values.read.request_id = "forged"  # type: ignore[misc, union-attr]


def test_reads_outside_a_recording_go_nowhere_and_nested_recordings_each_get_them() -> None:
    report(_read("samdops/before"))
    with recording() as outer:
        report(_read("samdops/one"))
        with recording() as inner:
            report(_read("samdops/two"))
        report(_read("samdops/three"))
    report(_read("samdops/after"))
    assert [r.path for r in outer.take()] == ["samdops/one", "samdops/two", "samdops/three"]
    assert [r.path for r in inner.take()] == ["samdops/two"]


def test_a_recording_sees_only_its_own_threads_reads() -> None:
    seen: dict[str, list[str]] = {}

    def other() -> None:
        report(_read("samdops/unrecorded"))  # a thread does not inherit the recording
        with recording() as theirs:
            report(_read("samdops/theirs"))
        seen["theirs"] = [r.path for r in theirs.take()]

    with recording() as mine:
        report(_read("samdops/mine"))
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert [r.path for r in mine.take()] == ["samdops/mine"]
    assert seen == {"theirs": ["samdops/theirs"]}


def test_reads_from_the_environment_are_not_vault_reads() -> None:
    backend = EnvSecrets({"SAMDOPS_SECRET_SAMDOPS_S3__ACCESS_KEY": "ak"})
    with recording() as reads:
        backend.read("samdops/s3")
    assert reads.take() == ()


# -- the audit file `samdops vault bootstrap` gives Vault -------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--addr", "https://vault.vault.svc:8200"],
            "Vault at https://vault.vault.svc:8200 is not on this machine: pass --audit-file "
            "with a path on the Vault server's audit volume (e.g. /vault/audit/samdops.log) or "
            "--audit-file stdout",
        ),
        (
            ["--addr", "http://10.0.0.7:8200", "--audit-file", "audit/samdops.log"],
            "--audit-file audit/samdops.log is relative; give an absolute path on the Vault "
            "server or stdout",
        ),
    ],
)
def test_bootstrap_of_a_remote_vault_needs_an_absolute_audit_file(
    argv: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "root-token-never-shown")
    monkeypatch.setenv("SAMDOPS_HOME", str(tmp_path / "home"))
    assert main(["vault", "bootstrap", *argv]) == 2
    assert capsys.readouterr().err == f"samdops: error: {message}\n"
    assert not (tmp_path / "home").exists()  # nothing created for a Vault elsewhere
