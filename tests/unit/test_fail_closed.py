"""Issue #16, fail closed: a run checks what it needs before its first step; reading never
writes a private key."""

from __future__ import annotations

from pathlib import Path

import pytest

from samdops.config import default_config_path, load_config
from samdops.errors import PccpError, SamdopsError, SecretsUnavailable
from samdops.governance.service import GovernedRegistry
from samdops.launch.local_run import run_training
from samdops.retry import waiting_disabled
from tests.conftest import PIMA_CSV


def test_reading_the_registry_creates_no_key(tmp_path: Path) -> None:
    governed = GovernedRegistry(tmp_path, sinks=[])
    assert governed.models() == []
    assert not (tmp_path / "keys").exists()


def test_an_unknown_plan_is_refused_before_any_step(tmp_path: Path) -> None:
    with pytest.raises(PccpError) as info:
        run_training(
            load_config(default_config_path()),
            data=PIMA_CSV,
            data_sha256=None,
            home=tmp_path,
            plan="no-such-plan",
        )
    assert str(info.value) == (
        "no PCCP 'no-such-plan' is registered; register it with `samdops pccp register FILE`"
    )
    assert not (tmp_path / "runs").exists() and not (tmp_path / "registry").exists()
    assert not (tmp_path / "keys").exists()


def test_an_unreachable_vault_is_refused_before_any_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:1")
    monkeypatch.setenv("VAULT_TOKEN", "x")
    with waiting_disabled(), pytest.raises(SecretsUnavailable, match=r"^cannot log in to Vault"):
        run_training(
            load_config(default_config_path()), data=PIMA_CSV, data_sha256=None, home=tmp_path
        )
    assert not (tmp_path / "runs").exists() and not (tmp_path / "registry").exists()
    assert not (tmp_path / "audit").exists()


def test_shared_s3_state_without_vault_is_refused_before_any_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    monkeypatch.setenv("SAMDOPS_S3_ENDPOINT", "http://127.0.0.1:1")
    monkeypatch.setenv("SAMDOPS_SECRET_SAMDOPS_S3__ACCESS_KEY", "a")
    monkeypatch.setenv("SAMDOPS_SECRET_SAMDOPS_S3__SECRET_KEY", "b")
    with pytest.raises(SamdopsError) as info:
        run_training(
            load_config(default_config_path()),
            data=PIMA_CSV,
            data_sha256=None,
            home=tmp_path,
            state="s3://bucket/prefix",
        )
    assert str(info.value) == (
        "the state location s3://bucket/prefix is shared by every step, so its signing key must "
        "be too: set VAULT_ADDR so that the Vault Transit key signs"
    )
    assert list(tmp_path.iterdir()) == []  # no run directory, no key, no record
