"""Running the real `samdops` command in tests, and setting up its users."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


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
