"""Content-addressed artifact stores: every artifact is stored once, under its own sha256.

:class:`ArtifactStore` is the protocol; :class:`~samdops.store.local.LocalStore` is the embedded
default and :class:`~samdops.store.s3.S3Store` the server one. Use :func:`open_store` to get a
store from a location string. Artifacts are named ``sha256:<hex>`` everywhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from urllib.parse import SplitResult, urlsplit

from samdops import settings
from samdops.errors import ConfigError

if TYPE_CHECKING:
    from samdops.secrets import SecretsBackend


@runtime_checkable
class ArtifactStore(Protocol):
    """A write-once, content-addressed store. Every read verifies the digest."""

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` (once) and return its ``sha256:<hex>`` digest."""
        ...

    def put_file(self, path: str | Path) -> str:
        """Store the file at ``path`` (once) and return its digest."""
        ...

    def get_bytes(self, digest: str) -> bytes:
        """Return the bytes stored under ``digest``; raise if missing or if they do not verify."""
        ...

    def get_file(self, digest: str, dest: str | Path) -> Path:
        """Write the verified content of ``digest`` to ``dest`` atomically and return ``dest``."""
        ...

    def exists(self, digest: str) -> bool:
        """Whether content for ``digest`` is stored."""
        ...

    def uri(self, digest: str) -> str:
        """Where the content of ``digest`` lives, as a URI (no credentials)."""
        ...


S3_SECRET_PATH = "samdops/s3"
"""Where the S3 credentials live in the secrets backend (keys ``access_key``, ``secret_key`` and
optionally ``session_token``); ``$SAMDOPS_S3_SECRET_PATH`` overrides it."""


def open_store(
    location: str | Path,
    *,
    secrets: SecretsBackend | None = None,
    endpoint: str | None = None,
) -> ArtifactStore:
    """Open the store at ``location``: a directory path, a ``file://`` URI or ``s3://BUCKET/PREFIX``.

    For S3, ``endpoint`` (or ``$SAMDOPS_S3_ENDPOINT``) is ``http(s)://host[:port]``, and the
    credentials are read now from ``secrets`` (default: :func:`~samdops.secrets.secrets_from_env`)
    at :data:`S3_SECRET_PATH`. Optional settings come from ``$SAMDOPS_S3_REGION``,
    ``$SAMDOPS_S3_RETENTION_DAYS`` and ``$SAMDOPS_S3_RETENTION_MODE``. Credentials in a location
    or endpoint are refused.
    """
    text = str(location)
    url = urlsplit(text)
    if url.scheme == "s3":
        return _open_s3(url, secrets=secrets, endpoint=endpoint)
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" in text:
        raise ConfigError(
            f"unsupported store location {_without_userinfo(str(location))!r}; "
            "use a directory path, a file:// URI or s3://BUCKET/PREFIX"
        )
    from samdops.store.local import LocalStore

    return LocalStore(Path(text))


def _without_userinfo(text: str) -> str:
    return re.sub(r"(?<=://)[^/@]*@", "***@", text)


def _open_s3(
    url: SplitResult, *, secrets: SecretsBackend | None, endpoint: str | None
) -> ArtifactStore:
    from samdops.secrets import read_keys, secrets_from_env
    from samdops.store.s3 import S3Settings, S3Store

    if "@" in url.netloc:
        raise ConfigError(
            "the store location must not contain credentials; they are read from the secrets "
            f"backend at {S3_SECRET_PATH}"
        )
    endpoint = endpoint or settings.s3_endpoint()
    if not endpoint:
        raise ConfigError(
            f"s3://{url.netloc} needs an endpoint: set SAMDOPS_S3_ENDPOINT, e.g. "
            "http://127.0.0.1:9000 or https://s3.eu-west-1.amazonaws.com"
        )
    days = settings.s3_retention_days()
    if not days.isdigit():
        raise ConfigError(f"SAMDOPS_S3_RETENTION_DAYS must be a whole number; got {days!r}")
    mode = settings.s3_retention_mode()
    s3 = S3Settings(
        endpoint=endpoint,
        bucket=url.netloc,
        prefix=url.path,
        region=settings.s3_region(),
        retention_days=int(days),
        retention_mode=mode,  # type: ignore[arg-type]  # checked by S3Settings
    )
    backend = secrets if secrets is not None else secrets_from_env()
    path = settings.s3_secret_path(S3_SECRET_PATH)
    values = read_keys(backend, path, "access_key", "secret_key")
    return S3Store(s3, values["access_key"], values["secret_key"], values.get("session_token"))


__all__ = ["S3_SECRET_PATH", "ArtifactStore", "open_store"]
