"""Secrets from environment variables: the embedded default, for local runs without Vault.

Key ``KEY`` of the secret at path ``PATH`` is the variable ``SAMDOPS_SECRET_<PATH>__<KEY>``, with
``PATH`` and ``KEY`` upper-cased and every character other than a letter or digit turned into
``_``. A double underscore separates path and key. For example, ``access_key`` of ``samdops/s3``
is ``SAMDOPS_SECRET_SAMDOPS_S3__ACCESS_KEY``. Keys are returned lower-cased.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from samdops import settings
from samdops.errors import SecretsUnavailable
from samdops.secrets.base import Secret

PREFIX = "SAMDOPS_SECRET_"


def _mangle(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", part).upper()


def env_var_name(path: str, key: str) -> str:
    """The environment variable that holds ``key`` of the secret at ``path``."""
    return f"{PREFIX}{_mangle(path)}__{_mangle(key)}"


class EnvSecrets:
    """Reads secrets from ``environ`` (default: the process environment) at each call."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ

    def __repr__(self) -> str:
        return "EnvSecrets()"

    def describe(self) -> str:
        return "the environment"

    def read(self, path: str) -> dict[str, Secret]:
        environ = settings.environ() if self._environ is None else self._environ
        stem = f"{PREFIX}{_mangle(path)}__"
        found = {
            name[len(stem) :].lower(): Secret(value, f"{path}#{name[len(stem) :].lower()}")
            for name, value in environ.items()
            if name.startswith(stem) and len(name) > len(stem)
        }
        if not found:
            raise SecretsUnavailable(
                f"cannot read secret {path} from the environment: no variables {stem}<KEY> are "
                "set; set them, or set VAULT_ADDR to read secrets from Vault"
            )
        return found
