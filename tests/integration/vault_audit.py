"""An OpenBao dev server with a configuration file, and Vault's audit file read back.

OpenBao takes audit devices from its configuration file only, unless the file says
``unsafe_allow_api_audit_creation = true`` (HashiCorp Vault takes them through the API). The
shared ``vault_server`` fixture has no configuration file; these servers have one.
(``running_vault`` in conftest.py could take the configuration instead; this mirrors it.)
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.integration.conftest import (
    VaultServer,
    bao_binary,
    free_port,
    http_status,
    stop,
    wait_until,
)

API_AUDIT = "unsafe_allow_api_audit_creation = true\n"


def declared_audit(path: str, file_path: str) -> str:
    """The configuration that declares the file audit device ``path`` writing to ``file_path``."""
    return f'audit "file" "{path}" {{\n  options {{\n    file_path = "{file_path}"\n  }}\n}}\n'


@contextlib.contextmanager
def configured_vault(workdir: Path, config: str = API_AUDIT) -> Iterator[VaultServer]:
    """A ``bao server -dev`` on a free loopback port, also reading ``config``."""
    port = free_port()
    token = "root-" + secrets.token_hex(16)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "server.hcl").write_text(config, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(workdir)
    log = open(workdir / "bao.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            bao_binary(),
            "server",
            "-dev",
            f"-config={workdir / 'server.hcl'}",
            f"-dev-root-token-id={token}",
            f"-dev-listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=workdir,
    )
    addr = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_status(f"{addr}/v1/sys/health") == 200, "OpenBao", process)
        yield VaultServer(addr, token, process)
    finally:
        stop(process)
        log.close()


def audit_entries(path: Path) -> list[dict[str, Any]]:
    """Every entry of Vault's file audit device at ``path`` (one JSON object a line)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
