"""The one location of every durable record: a directory (the embedded default) or S3.

Under the location live the artifacts (``store/``, content-addressed), and the write-once
documents: registry records and test sets (``registry/``), the audit log and its checkpoints
(``audit/``), the user directory (``identity/``) and the monitoring history and label joins
(``monitoring/``). A directory keeps today's layout under the samdops home; ``s3://BUCKET/PREFIX``
keeps the same keys under the prefix, each written once by conditional PUT. The location is never
a secret: S3 credentials come from the secrets backend (Vault), as for :func:`open_store`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from samdops import settings
from samdops.store import ArtifactStore, open_store
from samdops.store.documents import DocumentStore, LocalDocuments

if TYPE_CHECKING:
    from samdops.secrets import SecretsBackend


@dataclass(frozen=True)
class StateLocation:
    """The artifacts and the documents at one state location."""

    location: str
    artifacts: ArtifactStore
    documents: DocumentStore

    @property
    def directory(self) -> Path | None:
        """The directory of a local state location; ``None`` on S3."""
        docs = self.documents
        return docs.root if isinstance(docs, LocalDocuments) else None

    def __repr__(self) -> str:
        return f"StateLocation({self.location!r})"


def open_state(
    location: str | Path | StateLocation | None = None, *, secrets: SecretsBackend | None = None
) -> StateLocation:
    """The state at ``location`` (default: ``$SAMDOPS_STATE``, else the samdops home)."""
    if isinstance(location, StateLocation):
        return location
    where = settings.state_location(location)
    if not where.startswith("s3://"):
        root = Path(where)
        return StateLocation(where, open_store(root / "store"), LocalDocuments(root))
    from samdops.store.s3 import S3Store
    from samdops.store.s3_documents import S3Documents

    base = where.rstrip("/")
    artifacts = open_store(f"{base}/store", secrets=secrets)
    assert isinstance(artifacts, S3Store)
    s3 = artifacts.settings
    prefix = s3.prefix.removesuffix("store").strip("/")
    documents = S3Documents(
        artifacts.client,
        s3.bucket,
        prefix,
        retention_days=s3.retention_days or None,
        retention_mode=s3.retention_mode,
    )
    return StateLocation(base, artifacts, documents)


__all__ = ["StateLocation", "open_state"]
