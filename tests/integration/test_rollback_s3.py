"""A rollback on a real S3 server (moto): the WORM copy and an S3 witness catch it."""

from __future__ import annotations

from typing import Any

import pytest

from samdops.audit.anchor import Witness, WormCopy, read_anchors
from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Source, SourceKind, Target
from samdops.audit.log import AuditLog
from samdops.audit.s3_store import S3EntryStore
from samdops.audit.signer import LocalEd25519Signer
from samdops.audit.verify import verify_log
from samdops.errors import AuditVerificationError
from samdops.store.s3_documents import S3Documents


def _draft(n: int) -> EventDraft:
    return EventDraft(
        actor=Actor("rhea", AuthMethod.PASSWORD_OTP),
        action=Action.STATE_CHANGE,
        target=Target("pima-diabetes-onset", str(n)),
        source=Source(SourceKind.CLI, "samdops promote"),
    )


def test_deleted_head_and_checkpoint_are_caught_by_the_worm_copy_and_the_witness(
    s3_server: Any, s3_bucket: str, tmp_path: Any
) -> None:
    client = s3_server.client()
    signer = LocalEd25519Signer.load_or_create(tmp_path / "k.pem")
    store = S3EntryStore(client, s3_bucket, "state/audit", retention_days=1)
    witness = Witness(
        f"s3://{s3_bucket}/witness", S3Documents(client, s3_bucket, "witness", retention_days=1)
    )
    log = AuditLog(store, signer=signer, sinks=[witness])
    for size in (4, 6):
        with log.covered():  # one checkpoint at each size
            while len(log) < size:
                log.append(_draft(len(log)))
    root = log.root(6).hex()
    for key in ("entries/000000000004.entry", "entries/000000000005.entry"):
        client.remove_object(s3_bucket, f"state/audit/{key}")  # a delete marker: Object Lock
    client.remove_object(s3_bucket, "state/audit/checkpoints/000000000006.note")
    pem = signer.public_key_pem()
    fresh = S3EntryStore(client, s3_bucket, "state/audit")
    assert verify_log(fresh, pem).size == 4  # the rollback, without an anchor
    worm = WormCopy(S3Documents(client, s3_bucket, "state"))
    for anchor, name in ((worm, f"S3 WORM copy s3://{s3_bucket}/state/audit"), (witness, None)):
        with pytest.raises(AuditVerificationError) as info:
            verify_log(fresh, pem, anchors=read_anchors([anchor]))
        assert str(info.value) == (
            f"the log has 4 entries but the {name or witness.name} holds its checkpoint at "
            f"size 6, root sha256:{root}: entries 4 to 5 were deleted (a rollback)"
        )
