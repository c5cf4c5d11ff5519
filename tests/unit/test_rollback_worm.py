"""The S3 WORM copy as an anchor: a delete on a versioned, locked bucket only adds a delete
marker, so the checkpoints a rollback removed from the listing are still read back.

The S3 client is an in-memory versioned bucket with the calls :class:`S3Documents` makes
(conditional PUT, version listing, versioned GET, delete); the integration test
``tests/integration/test_rollback_s3.py`` does the same against a real S3 server.
"""

from __future__ import annotations

import hashlib
import itertools
from base64 import b64encode
from dataclasses import dataclass
from typing import Any

import pytest
from minio.error import S3Error

from samdops.audit import (
    Action,
    Actor,
    AuditLog,
    AuthMethod,
    EventDraft,
    LocalEd25519Signer,
    Source,
    SourceKind,
    Target,
)
from samdops.audit.anchor import WormCopy, anchor_status, configured_anchors, read_anchors
from samdops.audit.store import DocumentEntryStore
from samdops.audit.verify import verify_log
from samdops.errors import AuditError, AuditVerificationError
from samdops.store.s3_documents import S3Documents
from samdops.store.state import StateLocation

_ids = itertools.count(1)


@dataclass(frozen=True)
class _Version:
    object_name: str
    version_id: str
    data: bytes | None  # None: a delete marker
    is_dir: bool = False

    @property
    def is_delete_marker(self) -> bool:
        return self.data is None


class _Response:
    def __init__(self, data: bytes, version_id: str = "") -> None:
        self._data = data
        self.headers = {
            "x-amz-checksum-sha256": b64encode(hashlib.sha256(data).digest()).decode(),
            "x-amz-version-id": version_id,
        }

    def read(self) -> bytes:
        return self._data

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


class VersionedBucket:
    """The minio calls S3Documents makes, on one versioned bucket (newest version first)."""

    def __init__(self) -> None:
        self.keys: dict[str, list[_Version]] = {}
        self.down = False

    def _execute(self, method: str, bucket: str, name: str, *, body: bytes, **_: Any) -> None:
        live = self.keys.get(name, [])
        if live and not live[0].is_delete_marker:
            raise S3Error(None, "PreconditionFailed", "exists", name, "r", "h")  # type: ignore[arg-type]
        self.keys.setdefault(name, []).insert(0, _Version(name, str(next(_ids)), body))

    def remove_object(self, bucket: str, name: str) -> None:
        """A delete without a version id: a delete marker on top (Object Lock allows it)."""
        self.keys[name].insert(0, _Version(name, str(next(_ids)), None))

    def list_objects(
        self, bucket: str, prefix: str = "", recursive: bool = False, include_version: bool = False
    ) -> list[_Version]:
        if self.down:
            raise OSError("connection refused")
        found: list[_Version] = []
        dirs = set()
        for name, versions in sorted(self.keys.items()):
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix) :]
            if "/" in rest and not recursive:
                dirs.add(prefix + rest.split("/")[0] + "/")
                continue
            if include_version:
                found.extend(versions)
            elif not versions[0].is_delete_marker:
                found.append(versions[0])
        return found + [_Version(d, "", b"", is_dir=True) for d in sorted(dirs)]

    def get_object(
        self, bucket: str, name: str, *, version_id: str | None = None, **_: Any
    ) -> _Response:
        versions = self.keys.get(name, [])
        if version_id is None and versions and versions[0].is_delete_marker:
            raise S3Error(_Response(b""), "NoSuchKey", "deleted", name, "r", "h")  # type: ignore[arg-type]
        version = next((v for v in versions if version_id in (None, v.version_id)), None)
        if version is None:
            raise S3Error(_Response(b""), "NoSuchKey", "absent", name, "r", "h")  # type: ignore[arg-type]
        assert version.data is not None
        return _Response(version.data, version.version_id)


def _draft(i: int) -> EventDraft:
    return EventDraft(
        actor=Actor("rhea", AuthMethod.PASSWORD_OTP),
        action=Action.STATE_CHANGE,
        target=Target("pima-diabetes-onset", str(i)),
        source=Source(SourceKind.CLI, "samdops promote"),
    )


@pytest.fixture
def bucket() -> VersionedBucket:
    return VersionedBucket()


@pytest.fixture
def documents(bucket: VersionedBucket) -> S3Documents:
    return S3Documents(bucket, "samdops", "state", retention_days=30)


def _log(documents: S3Documents, signer: LocalEd25519Signer) -> AuditLog:
    log = AuditLog(DocumentEntryStore(documents, "audit"), signer=signer)
    for size in (12, 15):
        with log.covered():  # one checkpoint at ``size``
            while len(log) < size:
                log.append(_draft(len(log)))
    return log


def test_a_deleted_checkpoint_is_still_read_from_the_worm_copy(
    bucket: VersionedBucket, documents: S3Documents, tmp_path: Any
) -> None:
    signer = LocalEd25519Signer.load_or_create(tmp_path / "k.pem")
    log = _log(documents, signer)
    root = log.root(15).hex()
    for n in (12, 13, 14):
        bucket.remove_object("samdops", f"state/audit/entries/{n:012d}.entry")
    bucket.remove_object("samdops", "state/audit/checkpoints/000000000015.note")
    store = DocumentEntryStore(documents, "audit")
    pem = signer.public_key_pem()
    assert verify_log(store, pem).size == 12  # the rollback, without the anchor
    anchors = configured_anchors(StateLocation("s3://samdops/state", None, documents))  # type: ignore[arg-type]
    assert [a.name for a in anchors.readable] == ["S3 WORM copy s3://samdops/state/audit"]
    with pytest.raises(AuditVerificationError) as info:
        verify_log(store, pem, anchors=read_anchors(anchors.readable))
    assert str(info.value) == (
        "the log has 12 entries but the S3 WORM copy s3://samdops/state/audit holds its "
        f"checkpoint at size 15, root sha256:{root}: entries 12 to 14 were deleted (a rollback)"
    )


def test_an_intact_log_matches_the_worm_copy_and_no_lock_is_no_anchor(
    bucket: VersionedBucket, documents: S3Documents, tmp_path: Any
) -> None:
    signer = LocalEd25519Signer.load_or_create(tmp_path / "k.pem")
    log = _log(documents, signer)
    [status] = anchor_status(log.store, signer.public_key_pem(), [WormCopy(documents)])
    assert (status.reachable, status.ok, status.size) == (True, True, 15)
    unlocked = S3Documents(bucket, "samdops", "state")
    state = StateLocation("s3://samdops/state", None, unlocked)  # type: ignore[arg-type]
    assert configured_anchors(state).readable == ()


def test_an_unreachable_worm_copy_fails_closed(
    bucket: VersionedBucket, documents: S3Documents
) -> None:
    bucket.down = True
    with pytest.raises(AuditError) as info:
        read_anchors([WormCopy(documents)])
    assert str(info.value) == (
        "the S3 WORM copy s3://samdops/state/audit is unreachable (cannot list the versions in "
        "s3://samdops/state: connection refused); a rollback cannot be ruled out without it: "
        "make it reachable or remove it from the settings"
    )
