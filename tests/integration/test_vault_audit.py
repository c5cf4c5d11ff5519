"""Vault's own audit device, enabled by `samdops vault bootstrap`, and a samdops ``secret_read``
event correlated with its entry there (real OpenBao and S3 servers on loopback)."""

from __future__ import annotations

import contextlib
import json
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from samdops.audit.activity import secret_read
from samdops.audit.event import Action, Source, SourceKind
from samdops.cli import main
from samdops.errors import ConfigError, SecretsUnavailable
from samdops.governance.service import GovernedRegistry
from samdops.secrets import recording
from samdops.secrets.bootstrap import AuditDeviceConfig, bootstrap
from tests.integration.conftest import S3Server, VaultServer
from tests.integration.vault_audit import audit_entries, configured_vault, declared_audit

Start = Callable[[], contextlib.AbstractContextManager[VaultServer]]
DEVICE = "samdops-file"


def _audit_file(tmp_path: Path) -> Path:
    directory = tmp_path / "vault-audit"
    directory.mkdir(mode=0o700)
    return directory / "audit.log"


def _file_devices(server: VaultServer) -> dict[str, str]:
    devices = server.client().sys.list_enabled_audit_devices()["data"]
    return {name: d["options"]["file_path"] for name, d in devices.items() if d["type"] == "file"}


def test_bootstrap_enables_the_file_audit_device_once(tmp_path: Path) -> None:
    log = _audit_file(tmp_path)
    with configured_vault(tmp_path / "bao") as server:
        client = server.client()
        first = bootstrap(client, audit=AuditDeviceConfig(str(log)))
        assert first[0] == f"enabled file audit device at {DEVICE}/ writing to {log}"
        assert "enabled kv engine at samdops/ (version 2)" in first
        assert bootstrap(client, audit=AuditDeviceConfig(str(log))) == []
        assert _file_devices(server) == {f"{DEVICE}/": str(log)}  # one device, not two
        # enabled first, so the rest of the bootstrap is on Vault's record
        paths = {e["request"]["path"] for e in audit_entries(log) if e["type"] == "request"}
        assert {"sys/mounts/samdops", "transit/keys/samdops-audit"} <= paths


def test_cli_bootstrap_writes_vaults_audit_log_under_the_samdops_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    log = home / "vault" / "audit.log"
    monkeypatch.setenv("SAMDOPS_HOME", str(home))
    with configured_vault(tmp_path / "bao") as server:
        monkeypatch.setenv("VAULT_TOKEN", server.root_token)
        assert main(["vault", "bootstrap", "--addr", server.addr]) == 0
        first = capsys.readouterr()
        assert first.out.splitlines()[0] == (
            f"enabled file audit device at {DEVICE}/ writing to {log}"
        )
        assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
        assert log.stat().st_size > 0
        assert main(["vault", "bootstrap", "--addr", server.addr]) == 0
        second = capsys.readouterr()
        assert second.out == (
            f"Vault at {server.addr} is already set up for samdops; nothing changed\n"
        )
        assert _file_devices(server) == {f"{DEVICE}/": str(log)}
        for output in (first, second):
            assert server.root_token not in output.out + output.err
        assert server.root_token not in log.read_text(encoding="utf-8")  # HMAC'd by Vault


def test_a_device_declared_in_the_server_configuration_is_in_place(tmp_path: Path) -> None:
    log = _audit_file(tmp_path)
    with configured_vault(tmp_path / "bao", declared_audit(DEVICE, str(log))) as server:
        changes = bootstrap(server.client(), audit=AuditDeviceConfig(str(log)))
        assert not [line for line in changes if "audit device" in line]
        assert _file_devices(server) == {f"{DEVICE}/": str(log)}


def test_openbao_that_takes_audit_devices_only_from_its_configuration(
    start_vault: Start, tmp_path: Path
) -> None:
    log = _audit_file(tmp_path)
    with start_vault() as server:
        client = server.client()
        with pytest.raises(ConfigError) as info:
            bootstrap(client, audit=AuditDeviceConfig(str(log)))
        assert str(info.value) == (
            f"cannot enable the Vault audit device {DEVICE}/ at {server.addr}: the server takes "
            f'audit devices only from its configuration file; declare audit "file" "{DEVICE}" '
            f'{{ options {{ file_path = "{log}" }} }} there and restart it'
        )
        assert "samdops/" not in client.sys.list_mounted_secrets_engines()["data"]  # first step


def test_a_token_that_may_not_enable_audit_devices_fails_in_one_line(
    vault_bootstrapped: VaultServer, tmp_path: Path
) -> None:
    root = vault_bootstrapped.client()
    weak = root.auth.token.create(policies=["samdops-register"], ttl="60s")["auth"]["client_token"]
    with pytest.raises(SecretsUnavailable) as info:
        bootstrap(
            vault_bootstrapped.client(token=weak),
            audit=AuditDeviceConfig(str(_audit_file(tmp_path))),
        )
    assert str(info.value) == (
        f"cannot enable the Vault audit device {DEVICE}/ at {vault_bootstrapped.addr}: "
        f"permission denied; the token needs sudo on sys/audit and sys/audit/{DEVICE}"
    )
    assert weak not in str(info.value)


def test_the_device_path_already_writing_elsewhere_is_not_replaced(tmp_path: Path) -> None:
    other, wanted = tmp_path / "other.log", _audit_file(tmp_path)
    with configured_vault(tmp_path / "bao") as server:
        client = server.client()
        client.sys.enable_audit_device("file", path=DEVICE, options={"file_path": str(other)})
        with pytest.raises(ConfigError) as info:
            bootstrap(client, audit=AuditDeviceConfig(str(wanted)))
        assert str(info.value) == (
            f"the Vault audit device {DEVICE}/ at {server.addr} already writes to {other}, not "
            f"{wanted}: pass --audit-file {other} to keep it, or disable it first "
            f"(vault audit disable {DEVICE})"
        )
        assert _file_devices(server) == {f"{DEVICE}/": str(other)}


# -- one samdops event and its Vault audit entry ---------------------------------------------


@pytest.fixture
def audited_state(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The state on S3, its credentials in a Vault whose file audit device writes to the path
    yielded; samdops logs in with AppRole as the register component (``samdops-register``)."""
    log = _audit_file(tmp_path)
    with configured_vault(tmp_path / "bao") as server:
        root = server.client()
        bootstrap(root, audit=AuditDeviceConfig(str(log)))
        root.secrets.kv.v2.create_or_update_secret(
            "s3",
            secret={"access_key": s3_server.access_key, "secret_key": s3_server.secret_key},
            mount_point="samdops",
        )
        role = "samdops-register"
        role_id = root.auth.approle.read_role_id(role)["data"]["role_id"]
        secret_id = root.auth.approle.generate_secret_id(role)["data"]["secret_id"]
        for name in ("VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT", "SAMDOPS_S3_SECRET_PATH"):
            monkeypatch.delenv(name, raising=False)
        env = {
            "SAMDOPS_HOME": str(tmp_path / "home"),
            "SAMDOPS_STATE": f"s3://{s3_bucket}/state",
            "SAMDOPS_S3_ENDPOINT": s3_server.endpoint,
            "VAULT_ADDR": server.addr,
            "SAMDOPS_VAULT_AUTH": "approle",
            "SAMDOPS_VAULT_ROLE": role,
            "VAULT_ROLE_ID": role_id,
            "VAULT_SECRET_ID": secret_id,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield log


def test_a_secret_read_event_names_its_entry_in_vaults_audit_log(
    audited_state: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    vault_log = audited_state
    with recording() as reads:
        governed = GovernedRegistry()  # opens the S3 state: reads its credentials from Vault
    taken = reads.take()
    assert {(r.path, r.component) for r in taken} == {("samdops/s3", "samdops-register")}
    with governed.audit.covered():  # durable and signed (Transit) before we look
        for read in taken:
            governed.audit.append(
                secret_read(
                    read.component,
                    read.path,
                    source=Source(SourceKind.CLI, "vault-audit-correlation"),
                    vault_request_id=read.request_id,
                )
            )

    events = [r.event for r in GovernedRegistry().audit.entries()]
    [event] = [e for e in events if e.action == Action.SECRET_READ]
    assert event.actor.id == "svc:samdops-register"
    assert event.target.id == "secret/samdops/s3"
    request_id = event.detail_map()["vault_request_id"]
    assert request_id == taken[0].request_id

    entries = [e for e in audit_entries(vault_log) if e["request"]["id"] == request_id]
    assert sorted(e["type"] for e in entries) == ["request", "response"]
    for entry in entries:
        assert entry["request"]["path"] == "samdops/data/s3" == taken[0].vault_path
        assert entry["request"]["operation"] == "read"
        assert entry["auth"]["metadata"]["role_name"] == "samdops-register"  # the component
        assert "samdops-register" in entry["auth"]["policies"]

    # No secret value on either record: not in samdops' stored log, nor in clear in Vault's.
    values = (s3_server.secret_key, s3_server.access_key)
    stored = s3_server.client()
    for obj in stored.list_objects(s3_bucket, prefix="state/audit/", recursive=True):
        data = stored.get_object(s3_bucket, obj.object_name).read()
        assert not [v for v in values if v.encode() in data], obj.object_name
    assert not [v for v in values if v in json.dumps(event.to_dict())]
    assert not [v for v in values if v in vault_log.read_text(encoding="utf-8")]
    assert not [v for v in values if v in repr(taken)]


def test_a_pipeline_steps_secret_reads_are_on_its_trail_with_vaults_entries(
    audited_state: Path,
) -> None:
    from samdops.steps.audited import StepRun, audited_call

    def train_step() -> str:
        return "trained"

    assert audited_call(train_step, StepRun("", "run-7", "img@sha256:" + "e" * 64), (), {}) == (
        "trained"
    )
    events = [r.event for r in GovernedRegistry().audit.entries()]
    assert [e.action for e in events if e.source.ref == "run-7"] == [
        Action.STEP_START,
        Action.SECRET_READ,
        Action.STEP_END,
    ]
    [read] = [e for e in events if e.action == Action.SECRET_READ]
    assert (read.actor.id, str(read.target), read.source.ref) == (
        "svc:samdops-register",
        "secret/samdops/s3@samdops-register",
        "run-7",
    )
    request_id = read.detail_map()["vault_request_id"]
    entries = [e for e in audit_entries(audited_state) if e["request"]["id"] == request_id]
    assert {e["request"]["path"] for e in entries} == {"samdops/data/s3"}
    assert sorted(e["type"] for e in entries) == ["request", "response"]
