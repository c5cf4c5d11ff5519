"""Every environment variable samdops reads, typed, in one place.

Values are read when asked for, not at import, so a setting changed by a launcher (or a test)
is seen by the next call. Vault's own variables (``VAULT_*``) are read by the secrets backend
through :func:`environ`, as the Vault CLI reads them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from samdops.errors import ConfigError

HOME_ENV = "SAMDOPS_HOME"
STATE_ENV = "SAMDOPS_STATE"  # a directory or s3://BUCKET/PREFIX; default: the home
DOCKER_HOST_ENV = "DOCKER_HOST"  # the Docker API the container runner talks to (podman's here)
SIEM_ENV = "SAMDOPS_SIEM"
TRANSIT_KEY_ENV = "SAMDOPS_TRANSIT_KEY"
ERROR_FILE_ENV = "SAMDOPS_ERROR_FILE"
IMAGE_ENV = "SAMDOPS_COMPONENT_IMAGE"
SERVING_IMAGE_ENV = "SAMDOPS_SERVING_IMAGE"
PIPELINE_ROOT_ENV = "SAMDOPS_PIPELINE_ROOT"
KFP_HOST_ENV = "SAMDOPS_KFP_HOST"
GIT_COMMIT_ENV = "SAMDOPS_GIT_COMMIT"
LOCK_SHA256_ENV = "SAMDOPS_LOCK_SHA256"
VAULT_POLICIES_ENV = "SAMDOPS_VAULT_POLICIES"
S3_ENDPOINT_ENV = "SAMDOPS_S3_ENDPOINT"
S3_REGION_ENV = "SAMDOPS_S3_REGION"
S3_RETENTION_DAYS_ENV = "SAMDOPS_S3_RETENTION_DAYS"
S3_RETENTION_MODE_ENV = "SAMDOPS_S3_RETENTION_MODE"
S3_SECRET_PATH_ENV = "SAMDOPS_S3_SECRET_PATH"
MONITOR_MAX_ROWS_ENV = "SAMDOPS_MONITOR_MAX_ROWS"  # rows of one table the monitor reads
SIMULATE_MAX_MB_ENV = "SAMDOPS_SIMULATE_MAX_MB"  # memory the hospital simulator may need
AUDIT_WITNESS_ENV = "SAMDOPS_AUDIT_WITNESS"  # a directory or s3://BUCKET/PREFIX outside the state
AUDIT_REQUIRE_ANCHOR_ENV = "SAMDOPS_AUDIT_REQUIRE_ANCHOR"
SERVING_JOURNAL_ENV = "SAMDOPS_SERVING_JOURNAL"  # the model server's local journal directory
SERVING_POLL_ENV = "SAMDOPS_SERVING_POLL_SECONDS"  # how often the server re-reads the registry
SERVING_PYTHON_ENV = "SAMDOPS_SERVING_PYTHON"  # the serving environment's interpreter
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _get(name: str) -> str | None:
    """The variable's value, or None when it is unset or empty."""
    return os.environ.get(name) or None


def environ() -> Mapping[str, str]:
    """The process environment, for the secrets backend (Vault's ``VAULT_*`` variables)."""
    return os.environ


def samdops_home(override: str | Path | None = None) -> Path:
    """The home directory (not created): ``override``, ``$SAMDOPS_HOME`` or ``./.samdops``."""
    if override:
        return Path(override).expanduser().resolve()
    env = _get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return (Path.cwd() / ".samdops").resolve()


def state_location(override: str | Path | None = None, home: str | Path | None = None) -> str:
    """Where every durable record lives: ``override``, ``$SAMDOPS_STATE``, else the home
    directory (``home``, else :func:`samdops_home`).

    A directory (resolved to an absolute path) or ``s3://BUCKET/PREFIX``, returned as given.
    A local path that is, or lies under, something other than a directory is refused.
    """
    value = str(override or "") or _get(STATE_ENV) or ""
    if value.startswith("s3://"):
        return value
    if value.startswith("file://"):
        value = value[len("file://") :]
    directory = samdops_home(value or home or None)
    blocked = next((p for p in (directory, *directory.parents) if os.path.lexists(p)), directory)
    if not blocked.is_dir():
        what = "is" if blocked == directory else f"lies under {blocked}, which is"
        raise ConfigError(
            f"the state location {directory} {what} not a directory; give a directory or "
            f"s3://BUCKET/PREFIX with --state (or ${STATE_ENV})"
        )
    return str(directory)


def docker_host() -> str | None:
    """``$DOCKER_HOST``: the Docker API socket of the container runner (podman's, here)."""
    return _get(DOCKER_HOST_ENV)


def siem_destinations() -> list[str]:
    """The comma-separated SIEM destination URLs of ``$SAMDOPS_SIEM``."""
    return [url.strip() for url in (_get(SIEM_ENV) or "").split(",") if url.strip()]


def audit_witness() -> str | None:
    """``$SAMDOPS_AUDIT_WITNESS``: where each signed checkpoint is also written (an anchor)."""
    value = (_get(AUDIT_WITNESS_ENV) or "").strip()
    return value or None


def audit_require_anchor() -> bool:
    """``$SAMDOPS_AUDIT_REQUIRE_ANCHOR``: whether ``audit verify`` fails without an anchor."""
    value = (_get(AUDIT_REQUIRE_ANCHOR_ENV) or "0").strip().lower()
    if value not in _TRUE + _FALSE:
        raise ConfigError(f"{AUDIT_REQUIRE_ANCHOR_ENV} must be 1 or 0 (true or false)")
    return value in _TRUE


def vault_address() -> str | None:
    """``$VAULT_ADDR``: when set, secrets and signing keys come from Vault."""
    value = (_get("VAULT_ADDR") or "").strip()
    return value or None


def vault_token() -> str | None:
    return _get("VAULT_TOKEN")


def transit_key(default: str) -> str:
    """The Vault Transit key that signs (``$SAMDOPS_TRANSIT_KEY``, else ``default``)."""
    return _get(TRANSIT_KEY_ENV) or default


def vault_policies_dir() -> Path | None:
    value = _get(VAULT_POLICIES_ENV)
    return Path(value) if value else None


def error_file() -> Path | None:
    """Where a step appends its one-line error record (set by the local launcher)."""
    value = _get(ERROR_FILE_ENV)
    return Path(value) if value else None


def component_image_override() -> str | None:
    return _get(IMAGE_ENV)


def serving_image_override() -> str | None:
    return _get(SERVING_IMAGE_ENV)


def pipeline_root(default: str) -> str:
    return _get(PIPELINE_ROOT_ENV) or default


def kfp_host(default: str) -> str:
    return _get(KFP_HOST_ENV) or default


def git_commit() -> str | None:
    """The commit an image was built from (set in the image); None outside one."""
    return _get(GIT_COMMIT_ENV)


def built_in_image() -> bool:
    """Whether the code version comes from the image (``$SAMDOPS_GIT_COMMIT`` is defined, even
    empty for a build from uncommitted changes) rather than from a git checkout."""
    return GIT_COMMIT_ENV in os.environ


def lock_sha256() -> str | None:
    return _get(LOCK_SHA256_ENV)


def s3_endpoint() -> str | None:
    return _get(S3_ENDPOINT_ENV)


def s3_region() -> str | None:
    return _get(S3_REGION_ENV)


def s3_retention_days() -> str:
    """Raw, so that the store can name a bad value in its error."""
    return os.environ.get(S3_RETENTION_DAYS_ENV, "0")


def s3_retention_mode() -> str:
    return (_get(S3_RETENTION_MODE_ENV) or "GOVERNANCE").upper()


def s3_secret_path(default: str) -> str:
    return _get(S3_SECRET_PATH_ENV) or default


def ca_bundle() -> str | None:
    """``$SSL_CERT_FILE``: the CA bundle for TLS to the object store."""
    return _get("SSL_CERT_FILE")


def monitor_max_rows() -> int:
    """The most rows of one table the monitor reads (``$SAMDOPS_MONITOR_MAX_ROWS``)."""
    return _positive_int(MONITOR_MAX_ROWS_ENV, 5_000_000)


def simulate_max_mb() -> int:
    """The most memory, in MiB, a hospital simulation may need (``$SAMDOPS_SIMULATE_MAX_MB``)."""
    return _positive_int(SIMULATE_MAX_MB_ENV, 2048)


def serving_journal(model_name: str) -> Path:
    """The model server's journal directory (``$SAMDOPS_SERVING_JOURNAL``, else
    ``<home>/serving/<model name>``)."""
    value = _get(SERVING_JOURNAL_ENV)
    return Path(value).expanduser().resolve() if value else samdops_home() / "serving" / model_name


def serving_poll_seconds() -> int:
    """How often a model server re-reads the registry (``$SAMDOPS_SERVING_POLL_SECONDS``)."""
    return _positive_int(SERVING_POLL_ENV, 15)


def serving_python() -> Path:
    """The interpreter of the serving environment that ``samdops serve`` runs the server in
    (``$SAMDOPS_SERVING_PYTHON``, else ``.venv-serving`` beside this environment)."""
    value = _get(SERVING_PYTHON_ENV)
    if value:
        return Path(value).expanduser()
    return Path(sys.prefix).parent / ".venv-serving" / "bin" / "python"


def _positive_int(name: str, default: int) -> int:
    value = _get(name)
    if value is None:
        return default
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ConfigError(f"${name} must be a positive whole number; got {value[:20]!r}")
    return int(text)


@contextlib.contextmanager
def setting(name: str, value: str) -> Iterator[None]:
    """Set environment variable ``name`` for the steps a launcher starts, then restore it."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old
