"""Running the real `samdops` command in tests, and setting up its users."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from samdops.audit.event import AuthMethod
from samdops.cli import main
from samdops.governance.launch import Launcher


def samdops(
    home: Path, *args: str, stdin: str = "", env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`samdops ARGS` in a subprocess with ``$SAMDOPS_HOME`` set to ``home``."""
    return subprocess.run(
        [sys.executable, "-m", "samdops.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, **(env or {}), "SAMDOPS_HOME": str(home)},
    )


def create_users(
    home: Path, admin_password: str, users: Mapping[str, tuple[str, str, str]]
) -> None:
    """Bootstrap an administrator, then add each ``id -> (role, printed name, password)``."""
    done = samdops(
        home,
        "users",
        "bootstrap",
        "--id",
        "admin",
        "--name",
        "Ada Admin",
        "--password-stdin",
        stdin=admin_password + "\n",
    )
    assert done.returncode == 0, done.stderr
    for user, (role, name, password) in users.items():
        added = samdops(
            home,
            "users",
            "add",
            user,
            "--name",
            name,
            "--role",
            role,
            "--user",
            "admin",
            "--password-stdin",
            stdin=f"{admin_password}\ntemporary-password\n",
        )
        assert added.returncode == 0, added.stderr
        changed = samdops(
            home,
            "users",
            "passwd",
            "--user",
            user,
            "--password-stdin",
            stdin=f"temporary-password\n{password}\n",
        )
        assert changed.returncode == 0, changed.stderr


def launch_as(state: Path | str, run: str, actor: str = "eve") -> None:
    """Record that ``actor``, signed in, launched ``run`` at ``state``, as `samdops run` does
    before a step starts (for tests that start a pipeline without the launcher)."""
    from samdops.governance.launch import record_launch
    from samdops.governance.service import GovernedRegistry

    record_launch(GovernedRegistry(state, sinks=[]).audit, run, signed_in(actor), pipeline="test")


def signed_in(actor: str = "eve") -> Launcher:
    """``actor`` as the launcher `samdops run --user ACTOR` authenticates."""
    return Launcher(actor, AuthMethod.PASSWORD)


def train_pima(home: Path | str, workdir: Path, *, actor: str = "eve") -> None:
    """Train and register the Pima model in this process (the pipeline's steps, without KFP)
    at the state location ``home`` (a directory or ``s3://BUCKET/PREFIX``), launched by
    ``actor``."""
    from samdops.config import default_config_path, load_config
    from samdops.steps.inprocess import run_training_in_process
    from tests.conftest import PIMA_CSV, PIMA_SHA256

    run_training_in_process(
        load_config(default_config_path()),
        data=PIMA_CSV,
        data_sha256=PIMA_SHA256,
        state=home,
        workdir=workdir,
        launcher=signed_in(actor),
    )


def cli_in_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stdin: str, *argv: str
) -> tuple[int, str, str]:
    """Run ``samdops ARGV`` in this process with ``stdin``; its status, stdout and stderr."""
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err
