"""Write-once documents as S3 objects (MinIO, SeaweedFS, AWS): create-if-absent by conditional PUT.

Of several writers racing for a key exactly one gets 200 and the others 412 Precondition Failed
(``If-None-Match: *``). ``Minio.put_object`` turns unknown headers into user metadata, so the PUT
goes through the client's request method (``_execute``; the minio version is pinned in the lock
file and the integration tests exercise it against a real S3 server). Each PUT carries
``x-amz-checksum-sha256`` and ``Content-MD5``, so the server refuses bytes damaged in transit,
and, when ``retention_days`` is set, an Object Lock retention so that no one, an administrator
included, can delete the document before it expires.

With bucket versioning a privileged user could still PUT a *new version* on top of a document.
Reads therefore always return the oldest version (the locked original), checked against the
sha256 the server recorded when it was written, and :meth:`S3Documents.rewritten` lists every
key that has more than one version.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal, TypeVar

from samdops.clock import object_lock_date, utc_now
from samdops.errors import SamdopsError, StoreError
from samdops.store.documents import check_key

_T = TypeVar("_T")
_CONFLICT = ("PreconditionFailed", "ConditionalRequestConflict")


class S3Documents:
    """A :class:`~samdops.store.documents.DocumentStore` in ``bucket`` under ``prefix``."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        retention_days: int | None = None,
        retention_mode: Literal["COMPLIANCE", "GOVERNANCE"] = "COMPLIANCE",
        what: str = "state object",
        error: type[SamdopsError] = StoreError,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.retention_days = retention_days
        self.retention_mode = retention_mode
        self.location = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._what = what
        self._error = error

    def __repr__(self) -> str:
        return f"S3Documents({self.location!r})"

    def key(self, key: str) -> str:
        """The object key of document ``key``."""
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def create(self, key: str, data: bytes) -> bool:
        from minio.error import S3Error
        from urllib3.exceptions import HTTPError  # not imported where no S3 state is used

        name = self.key(key)
        headers = {
            "If-None-Match": "*",
            "Content-Type": "application/octet-stream",
            "Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode(),
            "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
        }
        if self.retention_days:
            until = utc_now() + timedelta(days=self.retention_days)
            headers["x-amz-object-lock-mode"] = self.retention_mode
            headers["x-amz-object-lock-retain-until-date"] = object_lock_date(until)
        try:
            self.client._execute("PUT", self.bucket, name, body=data, headers=headers)
        except S3Error as exc:
            if exc.code in _CONFLICT:
                return False  # another writer created it first
            raise self._error(
                f"cannot write {self._what} s3://{self.bucket}/{name}: {exc.code}"
            ) from None
        except (OSError, HTTPError) as exc:
            raise self._error(
                f"cannot write {self._what} s3://{self.bucket}/{name}: {exc}"
            ) from None
        return True

    def read(self, key: str) -> bytes | None:
        name = self.key(key)
        latest = self._get(name, None)  # absent, or deleted on top: its versions decide
        versions = self._call(
            "list",
            lambda: [
                v
                for v in self.client.list_objects(self.bucket, prefix=name, include_version=True)
                if v.object_name == name and not v.is_delete_marker
            ],
        )
        if not versions:
            return None
        original = versions[-1]  # S3 lists the versions of a key newest first
        if latest is not None and latest[1] is not None and latest[1] == original.version_id:
            return latest[0]  # the only version: what the first request read
        got = self._get(name, original.version_id)
        return None if got is None else got[0]

    def read_current(self, key: str) -> bytes | None:
        """The current version of ``key`` in one request (``None`` if absent or deleted): for a
        writer that only needs what others appended; :meth:`read` is the locked original."""
        got = self._get(self.key(key), None)
        return None if got is None or got[1] is None else got[0]

    def _get(self, name: str, version_id: str | None) -> tuple[bytes, str | None] | None:
        """The object (a version, or the latest) and its version id, checked against the sha256
        the server recorded; ``None`` if the key has no such version (or, for the latest, a
        delete marker on top)."""
        from minio.error import S3Error

        def get() -> tuple[bytes, str | None, str | None] | None:
            try:
                response = self.client.get_object(
                    self.bucket,
                    name,
                    version_id=version_id,
                    request_headers={"x-amz-checksum-mode": "ENABLED"},
                )
            except S3Error as exc:
                if exc.code in ("NoSuchKey", "NoSuchVersion"):
                    return None
                raise
            try:
                return (
                    bytes(response.read()),
                    response.headers.get("x-amz-checksum-sha256"),
                    response.headers.get("x-amz-version-id"),
                )
            finally:
                response.close()
                response.release_conn()

        got = self._call("read", get)
        if got is None:
            return None
        data, recorded, version = got
        if recorded is not None and recorded != _sha256_b64(data):
            raise self._error(
                f"{self._what} s3://{self.bucket}/{name} does not match the sha256 the server "
                "recorded when it was written; it was damaged or replaced"
            )
        return data, version

    def names(self, prefix: str) -> list[str]:
        base = (self.key(prefix) + "/") if prefix else (f"{self.prefix}/" if self.prefix else "")
        objects = self._call("list", lambda: list(self.client.list_objects(self.bucket, base)))
        return sorted(o.object_name[len(base) :] for o in objects)

    def rewritten(self, prefix: str = "") -> list[str]:
        """Object keys under ``prefix`` that someone wrote a second version of."""
        base = (self.key(prefix) + "/") if prefix else (f"{self.prefix}/" if self.prefix else "")
        counts: dict[str, int] = {}
        for obj in self._call(
            "list",
            lambda: list(
                self.client.list_objects(
                    self.bucket, prefix=base, recursive=True, include_version=True
                )
            ),
        ):
            counts[obj.object_name] = counts.get(obj.object_name, 0) + 1
        return sorted(k for k, n in counts.items() if n > 1)

    def _call(self, what: str, call: Callable[[], _T]) -> _T:
        from minio.error import S3Error
        from urllib3.exceptions import HTTPError

        try:
            return call()
        except S3Error as exc:
            raise self._error(
                f"cannot {what} {self._what}s in {self.location}: {exc.code}"
            ) from None
        except (OSError, HTTPError) as exc:
            raise self._error(f"cannot {what} {self._what}s in {self.location}: {exc}") from None


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()
