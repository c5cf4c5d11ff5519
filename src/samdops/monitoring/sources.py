"""Where the monitored tables come from: a local (or mounted) path, or an ``s3://`` object.

Objects are read with the artifact store's credentials (from the secrets backend, e.g. Vault in
the cluster; never from a parameter) and the endpoint of ``$SAMDOPS_S3_ENDPOINT``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pandas as pd

from samdops.errors import DriftInputError
from samdops.monitoring.io import read_table
from samdops.secrets import SecretsBackend


def read_source(
    location: str, what: str, *, secrets: SecretsBackend | None = None, endpoint: str | None = None
) -> pd.DataFrame:
    """The table at ``location`` (a path, or ``s3://BUCKET/KEY.parquet|.csv``)."""
    url = urlsplit(location)
    if url.scheme != "s3":
        return read_table(Path(location), what)
    from samdops.store import open_store
    from samdops.store.s3 import S3Store

    key = url.path.lstrip("/")
    if not url.netloc or not key:
        raise DriftInputError(f"{what} location {location} must be s3://BUCKET/KEY")
    store = open_store(f"s3://{url.netloc}", secrets=secrets, endpoint=endpoint)
    assert isinstance(store, S3Store)  # an s3:// location always opens an S3 store
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / PurePosixPath(key).name
        try:
            store.client.fget_object(url.netloc, key, str(local))
        except Exception as exc:  # minio raises S3Error and urllib3 errors
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DriftInputError(f"{what} object {location} cannot be read: {reason}") from exc
        return read_table(local, what)
