"""An OpenBao dev server with a configuration file, and Vault's audit file read back.

OpenBao takes audit devices from its configuration file only, unless the file says
``unsafe_allow_api_audit_creation = true`` (HashiCorp Vault takes them through the API). The
shared ``vault_server`` fixture has no configuration file; these servers have one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.integration.conftest import VaultServer, running_vault

API_AUDIT = "unsafe_allow_api_audit_creation = true\n"


def declared_audit(path: str, file_path: str) -> str:
    """The configuration that declares the file audit device ``path`` writing to ``file_path``."""
    return f'audit "file" "{path}" {{\n  options {{\n    file_path = "{file_path}"\n  }}\n}}\n'


@contextlib.contextmanager
def configured_vault(workdir: Path, config: str = API_AUDIT) -> Iterator[VaultServer]:
    """A ``bao server -dev`` on a free loopback port, also reading ``config``."""
    with running_vault(workdir, config) as server:
        yield server


def audit_entries(path: Path) -> list[dict[str, Any]]:
    """Every entry of Vault's file audit device at ``path`` (one JSON object a line)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
