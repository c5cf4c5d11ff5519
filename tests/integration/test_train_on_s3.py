"""`samdops run train --state s3://...` through kfp.local: credentials from Vault, never leaked."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from samdops.governance.records import Registry
from samdops.secrets.vault import AppRoleAuth, VaultSecrets
from samdops.store.state import open_state

pytestmark = pytest.mark.slow


def test_training_registers_artifacts_on_s3_with_vault_credentials(
    vault_bootstrapped: Any,
    s3_server: Any,
    s3_bucket: str,
    approle_login: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    access_key = "AKTRAIN" + secrets.token_hex(8).upper()
    secret_key = "sk-train-" + secrets.token_hex(16)
    vault_bootstrapped.client().secrets.kv.v2.create_or_update_secret(
        "s3", secret={"access_key": access_key, "secret_key": secret_key}, mount_point="samdops"
    )
    auth: AppRoleAuth = approle_login("register")
    home = tmp_path / "home"
    env = {
        **os.environ,
        "SAMDOPS_HOME": str(home),
        "SAMDOPS_S3_ENDPOINT": s3_server.endpoint,
        "VAULT_ADDR": vault_bootstrapped.addr,
        "VAULT_ROLE_ID": auth.role_id.reveal(),
        "VAULT_SECRET_ID": auth.secret_id.reveal(),
        "SAMDOPS_VAULT_ROLE": "samdops-register",
    }
    location = f"s3://{s3_bucket}/models"
    done = subprocess.run(
        [sys.executable, "-m", "samdops.cli", "run", "train", "--state", location],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    monkeypatch.setenv("SAMDOPS_S3_ENDPOINT", s3_server.endpoint)
    state = open_state(
        location, secrets=VaultSecrets(vault_bootstrapped.addr, approle_login("register"))
    )
    (record,) = Registry(state).records()
    artifacts = record.document["artifacts"]
    assert artifacts["model"]["uri"] == (
        f"s3://{s3_bucket}/models/store/sha256/{record.model_sha256.removeprefix('sha256:')}"
    )
    assert f"model file        s3://{s3_bucket}/models/store/sha256/" in done.stdout
    assert f"registry record   {location}/registry/models/" in done.stdout
    assert [p.name for p in home.iterdir()] == ["runs"]  # no record on the host's disk
    store = state.artifacts
    for artifact in artifacts.values():
        assert store.get_bytes(artifact["sha256"])  # present on S3 and verified on read
    # the credentials appear nowhere: output, logs, run files, registry, compiled pipeline
    compiled = subprocess.run(
        [sys.executable, "-m", "samdops.cli", "compile", "--out", str(tmp_path / "compiled")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    haystacks = [done.stdout, done.stderr, compiled.stdout, compiled.stderr]
    for root in (home, tmp_path / "compiled"):
        haystacks += [p.read_bytes().decode("latin-1") for p in root.rglob("*") if p.is_file()]
    for value in (access_key, secret_key, auth.secret_id.reveal()):
        assert not any(value in text for text in haystacks)
    lineage = record.document["lineage"]
    assert lineage["config"]["uri"].startswith(f"s3://{s3_bucket}/models/store/sha256/")
    assert "file://" not in json.dumps(artifacts)
