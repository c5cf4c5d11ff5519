"""Audit entries and checkpoints as write-once S3 objects (MinIO, SeaweedFS, AWS), Object Lock.

Create-if-absent is a conditional PUT (``If-None-Match: *``, see
:mod:`samdops.store.s3_documents`): of several writers racing for entry ``n`` exactly one gets
200 and the others 412 Precondition Failed, which is what :class:`~samdops.audit.log.AuditLog`
needs to never fork or lose an entry. Reads return the oldest version of a key (the locked
original), and :meth:`S3EntryStore.rewritten` lists every key someone wrote a second version
of, for ``samdops audit verify`` to report.
"""

from __future__ import annotations

from typing import Any, Literal

from samdops.audit.store import DocumentEntryStore
from samdops.errors import AuditError
from samdops.store.s3_documents import S3Documents


class S3EntryStore(DocumentEntryStore):
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
        self.objects = S3Documents(
            client,
            bucket,
            prefix,
            retention_days=retention_days,
            retention_mode=retention_mode,
            what="audit object",
            error=AuditError,
        )
        self.bucket = bucket
        self.prefix = self.objects.prefix
        super().__init__(self.objects, prefix="")

    @property
    def _client(self) -> Any:
        return self.objects.client
