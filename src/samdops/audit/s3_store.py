"""Audit entries and checkpoints as write-once S3 objects (MinIO, SeaweedFS, AWS), Object Lock.

Create-if-absent is a conditional PUT (``If-None-Match: *``): of several writers racing for
entry ``n`` exactly one gets 200 and the others 412 Precondition Failed, which is what
:class:`~samdops.audit.log.AuditLog` needs to never fork or lose an entry. ``Minio.put_object``
turns unknown headers into user metadata, so the PUT goes through the client's request method
(``_execute``; the minio version is pinned in the lock file and a test exercises it against a
real S3 server). Each PUT carries ``x-amz-checksum-sha256`` and ``Content-MD5``, so the server
refuses bytes damaged in transit, and, when ``retention_days`` is set, an Object Lock retention
so that no one, an administrator included, can delete the entry before it expires.

With bucket versioning a privileged user could still PUT a *new version* on top of an entry.
Reads therefore always return the oldest version (the locked original), and
:meth:`S3EntryStore.rewritten` lists every key that has more than one version, for
``samdops audit verify`` to report.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal, TypeVar

from urllib3.exceptions import HTTPError

from samdops.clock import object_lock_date, utc_now
from samdops.errors import AuditError

_ENTRY_RE = re.compile(r"(\d{12})\.entry$")
_NOTE_RE = re.compile(r"(\d{12})\.note$")
_T = TypeVar("_T")


class S3EntryStore:
    """An :class:`~samdops.audit.store.EntryStore` in ``bucket`` under ``prefix``."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "audit",
        *,
        retention_days: int | None = None,
        retention_mode: Literal["COMPLIANCE", "GOVERNANCE"] = "COMPLIANCE",
    ) -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.retention_days = retention_days
        self.retention_mode = retention_mode

    def __repr__(self) -> str:
        return f"S3EntryStore(s3://{self.bucket}/{self.prefix})"

    def _key(self, kind: str, number: int, suffix: str) -> str:
        return f"{self.prefix}/{kind}/{number:012d}.{suffix}"

    # -- EntryStore ----------------------------------------------------------------------------

    def create_if_absent(self, seq: int, data: bytes) -> bool:
        return self._create(self._key("entries", seq, "entry"), data)

    def read(self, seq: int) -> bytes | None:
        return self._read(self._key("entries", seq, "entry"))

    def sequence_numbers(self) -> list[int]:
        return self._list("entries", _ENTRY_RE)

    def put_checkpoint(self, size: int, note: bytes) -> bool:
        return self._create(self._key("checkpoints", size, "note"), note)

    def read_checkpoint(self, size: int) -> bytes | None:
        return self._read(self._key("checkpoints", size, "note"))

    def checkpoint_sizes(self) -> list[int]:
        return self._list("checkpoints", _NOTE_RE)

    def rewritten(self) -> list[str]:
        """Keys under the prefix that someone wrote a second version of."""
        counts: dict[str, int] = {}
        for obj in self._call(
            "list",
            lambda: list(
                self._client.list_objects(
                    self.bucket, prefix=f"{self.prefix}/", recursive=True, include_version=True
                )
            ),
        ):
            counts[obj.object_name] = counts.get(obj.object_name, 0) + 1
        return sorted(k for k, n in counts.items() if n > 1)

    # -- internals -----------------------------------------------------------------------------

    def _create(self, key: str, data: bytes) -> bool:
        from minio.error import S3Error

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
            self._client._execute("PUT", self.bucket, key, body=data, headers=headers)
        except S3Error as exc:
            if exc.code in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False  # another writer created it first
            raise AuditError(
                f"cannot write audit object s3://{self.bucket}/{key}: {exc.code}"
            ) from None
        except (OSError, HTTPError) as exc:
            raise AuditError(f"cannot write audit object s3://{self.bucket}/{key}: {exc}") from None
        return True

    def _read(self, key: str) -> bytes | None:
        versions = self._call(
            "list",
            lambda: [
                v
                for v in self._client.list_objects(self.bucket, prefix=key, include_version=True)
                if v.object_name == key and not v.is_delete_marker
            ],
        )
        if not versions:
            return None
        original = versions[-1]  # S3 lists the versions of a key newest first

        def get() -> bytes:
            response = self._client.get_object(self.bucket, key, version_id=original.version_id)
            try:
                return bytes(response.read())
            finally:
                response.close()
                response.release_conn()

        return self._call("read", get)

    def _list(self, kind: str, pattern: re.Pattern[str]) -> list[int]:
        objects = self._call(
            "list",
            lambda: list(self._client.list_objects(self.bucket, prefix=f"{self.prefix}/{kind}/")),
        )
        return sorted(int(m.group(1)) for o in objects if (m := pattern.search(o.object_name)))

    def _call(self, what: str, call: Callable[[], _T]) -> _T:
        from minio.error import S3Error

        try:
            return call()
        except S3Error as exc:
            raise AuditError(
                f"cannot {what} audit objects in s3://{self.bucket}/{self.prefix}: {exc.code}"
            ) from None
        except (OSError, HTTPError) as exc:
            raise AuditError(
                f"cannot {what} audit objects in s3://{self.bucket}/{self.prefix}: {exc}"
            ) from None


def open_entry_store(location: str) -> S3EntryStore:
    """The audit entry store at ``s3://BUCKET/PREFIX``, with the S3 settings and credentials that
    :func:`samdops.store.open_store` reads (endpoint, retention, credentials from the secrets
    backend)."""
    from samdops.store import open_store
    from samdops.store.s3 import S3Store

    store = open_store(location)
    if not isinstance(store, S3Store):
        raise AuditError(f"the audit log location {location!r} is not an s3:// location")
    settings = store.settings
    return S3EntryStore(
        store.client,
        settings.bucket,
        settings.prefix or "audit",
        retention_days=settings.retention_days or None,
        retention_mode=settings.retention_mode,
    )
