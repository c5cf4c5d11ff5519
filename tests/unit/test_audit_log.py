"""The audit log: appends, proofs, failing closed, and every tampering attack with its error."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from samdops.audit import (
    Action,
    Actor,
    AuditEvent,
    AuditLog,
    AuditRecord,
    AuthMethod,
    Checkpoint,
    EventDraft,
    LocalEd25519Signer,
    LocalEntryStore,
    Outcome,
    Source,
    SourceKind,
    Target,
    sign_checkpoint,
)
from samdops.audit.entry import GENESIS, decode_entry, encode_entry
from samdops.audit.export import entry_proof, export_log, verify_entry_proof, verify_export
from samdops.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from samdops.clock import utc_timestamp
from samdops.errors import AuditError, AuditVerificationError, CheckpointInvalid, ConfigError

SIZE = 10


def draft(i: int, action: Action = Action.MODIFY) -> EventDraft:
    return EventDraft(
        actor=Actor("alice", AuthMethod.PASSWORD_OTP),
        action=action,
        target=Target("model/pima", str(i)),
        source=Source(SourceKind.CLI, "samdops registry promote"),
        prev_hash="sha256:" + "a" * 64,
        new_hash="sha256:" + "b" * 64,
        reason=f"change {i}",
    )


@pytest.fixture
def signer(tmp_path: Path) -> LocalEd25519Signer:
    return LocalEd25519Signer.load_or_create(tmp_path / "keys" / "audit.pem")


@pytest.fixture
def log(tmp_path: Path, signer: LocalEd25519Signer) -> AuditLog:
    """Ten entries with checkpoints at sizes 5 and 10."""
    audit = AuditLog.open(tmp_path / "audit", signer=signer)
    for start in (0, 5):
        with audit.covered():  # one checkpoint when the block exits
            for i in range(start, start + 5):
                audit.append(draft(i))
    return audit


def store_of(log: AuditLog) -> LocalEntryStore:
    assert isinstance(log.store, LocalEntryStore)
    return log.store


def entry_file(log: AuditLog, seq: int) -> Path:
    return store_of(log).entry_path(seq)


def overwrite(path: Path, data: bytes) -> None:
    """What an administrator with shell access could do to a read-only file."""
    if path.exists():
        os.chmod(path, 0o644)
    path.write_bytes(data)


def forge(log: AuditLog, at: int, *, store_as: int | None = None, **changes: object) -> bytes:
    """Re-encode entry ``at`` with changed fields and a recomputed leaf hash."""
    record = decode_entry(at, entry_file(log, at).read_bytes())
    fields = {"seq": at, "prev": record.prev, "event": record.event, **changes}
    data, _ = encode_entry(fields["seq"], fields["prev"], fields["event"])  # type: ignore[arg-type]
    overwrite(entry_file(log, at if store_as is None else store_as), data)
    return data


def verify_error(log: AuditLog, signer: LocalEd25519Signer) -> AuditVerificationError:
    with pytest.raises(AuditVerificationError) as info:
        log.verify(signer.public_key_pem())
    return info.value


def leaf(log: AuditLog, seq: int) -> str:
    return decode_entry(seq, entry_file(log, seq).read_bytes()).digest


# -- the happy path ------------------------------------------------------------------------------


def test_append_returns_the_durable_record(log: AuditLog, signer: LocalEd25519Signer) -> None:
    record = log.append(draft(99))
    assert isinstance(record, AuditRecord)
    assert record.seq == SIZE
    assert record.prev == leaf(log, SIZE - 1)
    assert decode_entry(SIZE, entry_file(log, SIZE).read_bytes()) == record
    assert entry_file(log, SIZE).stat().st_mode & 0o777 == 0o444  # write-once, read-only
    verified = log.verify(signer.public_key_pem())  # covered by a checkpoint before it returned
    assert (verified.size, verified.unanchored, verified.checkpoints_checked) == (11, 0, 3)


def test_a_fresh_instance_reads_the_same_log(log: AuditLog, signer: LocalEd25519Signer) -> None:
    again = AuditLog.open(store_of(log).root, signer=signer)
    assert [r.event.id for r in again.entries()] == [r.event.id for r in log.entries()]
    assert again.append(draft(1)).seq == SIZE
    assert again.root() == log.root()


def test_time_and_id_are_stamped_by_the_system() -> None:
    event = draft(1).stamp()
    assert event.time.endswith("Z") and len(event.time) == 24
    assert not any(f.name in ("time", "id") for f in dataclasses.fields(EventDraft))
    forged = dataclasses.replace(event, time="2001-01-01T00:00:00.000Z")
    assert forged.stamp().time != forged.time and forged.stamp().id != forged.id


def test_events_are_schema_validated() -> None:
    with pytest.raises(AuditError, match="a reason is required to record a modify"):
        EventDraft(
            Actor("a", AuthMethod.OIDC),
            Action.MODIFY,
            Target("m", "1"),
            Source(SourceKind.CLI, "x"),
        )
    with pytest.raises(AuditError, match="reason is required to record a delete"):
        dataclasses.replace(draft(1, Action.DELETE), reason=None)
    with pytest.raises(AuditError, match="'action' must be one of"):
        dataclasses.replace(draft(1), action="rename")  # type: ignore[arg-type]
    with pytest.raises(AuditError, match="'new_hash' must be 'sha256:<64 hex>'"):
        dataclasses.replace(draft(1), new_hash="md5:abc")
    with pytest.raises(AuditError, match=r"'actor\.auth' must be one of"):
        Actor("alice", "magic")  # type: ignore[arg-type]
    with pytest.raises(AuditError, match="'time' must be UTC RFC 3339"):
        dataclasses.replace(draft(1).stamp(), time="2026-01-01T00:00:00Z")
    event = draft(1).stamp().to_dict()
    assert AuditEvent.from_dict(event).to_dict() == event
    with pytest.raises(AuditError, match=r"missing \['outcome'\], unexpected \['result'\]"):
        AuditEvent.from_dict({**{k: v for k, v in event.items() if k != "outcome"}, "result": 1})
    parsed: dict[str, object] = {"auth": "service_account_token", "action": "create", "src": "api"}
    create = EventDraft(  # enum values given as plain strings, as parsed from JSON, are coerced
        Actor("svc", parsed["auth"]),  # type: ignore[arg-type]
        parsed["action"],  # type: ignore[arg-type]
        Target("m", "1"),
        Source(parsed["src"], "r"),  # type: ignore[arg-type]
    )
    assert create.action is Action.CREATE and create.outcome is Outcome.SUCCESS


def test_proofs_verify_against_signed_checkpoints(
    log: AuditLog, signer: LocalEd25519Signer
) -> None:
    cp5, cp10 = log.checkpoints()
    for cp in (cp5, cp10):
        cp.verify(signer.public_key_pem())
    for seq in range(SIZE):
        record = log.record(seq)
        verify_inclusion(seq, SIZE, record.leaf_hash, log.prove_inclusion(seq, SIZE), cp10.root)
        assert log.verify_entry(seq, cp10, signer.public_key_pem()) == record
    verify_inclusion(2, 5, log.record(2).leaf_hash, log.prove_inclusion(2, 5), cp5.root)
    verify_consistency(5, 10, cp5.root, cp10.root, log.prove_consistency(5, 10))
    with pytest.raises(AuditError, match="leaf 10 is not in a tree of size 10"):
        log.prove_inclusion(10)


def test_checkpoint_note_round_trips(log: AuditLog) -> None:
    cp = log.checkpoints()[-1]
    assert Checkpoint.from_note(cp.to_note()) == cp
    assert cp.to_note().splitlines()[:2] == ["samdops-audit", "10"]
    with pytest.raises(CheckpointInvalid, match="not a note"):
        Checkpoint.from_note("samdops-audit\n10\n")


# -- attacks on entries --------------------------------------------------------------------------


def test_flipped_byte_in_an_entry_names_that_entry(
    log: AuditLog, signer: LocalEd25519Signer
) -> None:
    path = entry_file(log, 4)
    data = bytearray(path.read_bytes())
    data[data.index(b"change 4")] ^= 0x01
    overwrite(path, bytes(data))
    body, recorded, _ = bytes(data).split(b"\n")
    err = verify_error(log, signer)
    assert err.index == 4
    assert str(err) == (
        f"entry 4 was altered: its content hashes to sha256:{leaf_hash(body).hex()}, "
        f"it recorded {recorded.decode()}"
    )


def test_flipped_byte_in_the_last_entry_is_caught(
    log: AuditLog, signer: LocalEd25519Signer
) -> None:
    path = entry_file(log, SIZE - 1)
    data = bytearray(path.read_bytes())
    data[-5] = ord("0") if data[-5] != ord("0") else ord("1")  # inside the hash line
    overwrite(path, bytes(data))
    assert verify_error(log, signer).index == SIZE - 1


def test_rewritten_entry_with_recomputed_hash_breaks_the_chain_at_the_next(
    log: AuditLog, signer: LocalEd25519Signer
) -> None:
    old = leaf(log, 4)
    event = dataclasses.replace(log.record(4).event, reason="nothing to see")
    forge(log, 4, event=event)
    err = verify_error(log, signer)
    assert err.index == 5
    assert str(err) == (
        f"entry 5 does not match the chain: its prev_hash is {old}, "
        f"entry 4 hashes to {leaf(log, 4)}"
    )


def test_schema_violation_names_the_entry(log: AuditLog, signer: LocalEd25519Signer) -> None:
    event = log.record(3).event
    bad = object.__new__(AuditEvent)  # bypass validation, as a hand-edited file would
    for f in dataclasses.fields(AuditEvent):
        object.__setattr__(bad, f.name, getattr(event, f.name))
    object.__setattr__(bad, "reason", None)
    forge(log, 3, event=bad)
    err = verify_error(log, signer)
    assert err.index == 3
    assert (
        str(err)
        == "entry 3 breaks the event schema: a reason is required to record a modify (AT-02)"
    )


def test_deleted_entry_is_named(log: AuditLog, signer: LocalEd25519Signer) -> None:
    entry_file(log, 4).unlink()
    err = verify_error(log, signer)
    assert err.index == 4
    assert str(err) == "entry 4 is missing: the log jumps from entry 3 to entry 5"


def test_inserted_copy_is_named(log: AuditLog, signer: LocalEd25519Signer) -> None:
    for seq in range(SIZE - 1, 3, -1):
        entry_file(log, seq).rename(entry_file(log, seq + 1))
    overwrite(entry_file(log, 4), entry_file(log, 2).read_bytes())
    err = verify_error(log, signer)
    assert err.index == 4
    assert str(err) == (
        "entry 4 records sequence number 2: entries were inserted, removed or moved"
    )


def test_forged_insertion_is_caught_at_the_first_displaced_entry(
    log: AuditLog, signer: LocalEd25519Signer
) -> None:
    for seq in range(SIZE - 1, 3, -1):
        entry_file(log, seq).rename(entry_file(log, seq + 1))
    data, _ = encode_entry(4, leaf(log, 3), draft(42).stamp())  # perfectly chained to entry 3
    overwrite(entry_file(log, 4), data)
    err = verify_error(log, signer)
    assert err.index == 5
    assert str(err) == "entry 5 records sequence number 4: entries were inserted, removed or moved"


def test_reordered_entries_are_named(log: AuditLog, signer: LocalEd25519Signer) -> None:
    a, b = entry_file(log, 3), entry_file(log, 6)
    tmp = a.with_suffix(".swap")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)
    err = verify_error(log, signer)
    assert err.index == 3
    assert str(err) == "entry 3 records sequence number 6: entries were inserted, removed or moved"


def test_reordered_entries_with_fixed_sequence_numbers_break_the_chain(
    log: AuditLog, signer: LocalEd25519Signer
) -> None:
    three, six = log.record(3), log.record(6)
    forge(log, 6, store_as=3, seq=3)
    forge(log, 3, store_as=6, seq=6, event=three.event, prev=three.prev)
    err = verify_error(log, signer)
    assert err.index == 3
    assert str(err) == (
        f"entry 3 does not match the chain: its prev_hash is {six.prev}, "
        f"entry 2 hashes to {leaf(log, 2)}"
    )


def test_truncated_log_is_caught_by_the_checkpoint(
    log: AuditLog, signer: LocalEd25519Signer
) -> None:
    for seq in (7, 8, 9):
        entry_file(log, seq).unlink()
    err = verify_error(log, signer)
    assert err.index == 7
    assert str(err) == (
        "the log has 7 entries but the checkpoint at size 10 covers 10: "
        "entries 7 to 9 are missing (truncated)"
    )


def test_truncated_entry_file_is_named(log: AuditLog, signer: LocalEd25519Signer) -> None:
    path = entry_file(log, 6)
    overwrite(path, path.read_bytes()[:100])
    err = verify_error(log, signer)
    assert err.index == 6
    assert str(err).startswith("entry 6 is not two lines")


def test_rewritten_tail_is_caught_by_the_signed_root(
    log: AuditLog, signer: LocalEd25519Signer
) -> None:
    forge(log, 8, event=dataclasses.replace(log.record(8).event, reason="rewritten"))
    forge(log, 9, prev=leaf(log, 8))  # the chain re-forged behind it
    with pytest.raises(CheckpointInvalid) as info:
        log.verify(signer.public_key_pem())
    assert info.value.index == 5
    assert "an entry from 5 to 9 was rewritten and the chain re-forged" in str(info.value)


# -- attacks on checkpoints ----------------------------------------------------------------------


def test_replaced_checkpoint_signature_is_caught(log: AuditLog, signer: LocalEd25519Signer) -> None:
    cp = log.checkpoints()[-1]
    forged = dataclasses.replace(cp, signature=bytes(64))
    overwrite(store_of(log).checkpoint_path(10), forged.to_note().encode())
    with pytest.raises(CheckpointInvalid) as info:
        log.verify(signer.public_key_pem())
    assert info.value.index is None
    assert str(info.value) == (
        f"checkpoint at size 10 has an invalid signature for key {signer.key_id}"
    )


def test_checkpoint_with_an_edited_root_is_reported_as_forged(
    log: AuditLog, signer: LocalEd25519Signer
) -> None:
    forged = dataclasses.replace(log.checkpoints()[-1], root=bytes(32))
    overwrite(store_of(log).checkpoint_path(10), forged.to_note().encode())
    with pytest.raises(CheckpointInvalid, match="checkpoint at size 10 has an invalid signature"):
        log.verify(signer.public_key_pem())


def test_checkpoint_signed_by_another_key_is_caught(
    log: AuditLog, signer: LocalEd25519Signer, tmp_path: Path
) -> None:
    mallory = LocalEd25519Signer.load_or_create(tmp_path / "mallory.pem")
    cp = log.checkpoints()[-1]
    overwrite(
        store_of(log).checkpoint_path(10),
        sign_checkpoint(cp.origin, cp.size, cp.root, mallory).to_note().encode(),
    )
    with pytest.raises(CheckpointInvalid, match=f"signed by key {mallory.key_id}, not by"):
        log.verify(signer.public_key_pem())


def test_rewritten_and_resigned_history_is_caught_by_an_anchored_checkpoint(
    log: AuditLog, signer: LocalEd25519Signer
) -> None:
    anchored = log.checkpoints()[-1]  # e.g. the copy the SIEM received (AT-05)
    for sizes in store_of(log).checkpoint_sizes():
        overwrite(store_of(log).checkpoint_path(sizes), b"")
        store_of(log).checkpoint_path(sizes).unlink()
    prev = GENESIS
    for seq in range(SIZE):  # an insider rewrites everything and re-signs with the real key
        event = dataclasses.replace(log.record(seq).event, reason="history rewritten")
        prev = (
            "sha256:" + forge(log, seq, prev=prev, event=event).split(b"\nsha256:")[1][:64].decode()
        )
    AuditLog.open(store_of(log).root, signer=signer).checkpoint()
    log.verify(signer.public_key_pem())  # self-consistent on its own...
    with pytest.raises(CheckpointInvalid, match="an entry from 0 to 9 was rewritten"):
        log.verify(signer.public_key_pem(), trusted=[anchored])  # ...but not with the anchor


def test_forked_checkpoint_is_caught(log: AuditLog, signer: LocalEd25519Signer) -> None:
    cp5 = log.checkpoints()[0]
    fork = sign_checkpoint(cp5.origin, 5, bytes(32), signer)
    with pytest.raises(CheckpointInvalid, match="checkpoint at size 5 is not consistent"):
        log.verify(signer.public_key_pem(), trusted=[fork])


def test_checkpoint_of_another_log_is_refused(log: AuditLog, signer: LocalEd25519Signer) -> None:
    cp = log.checkpoints()[-1]
    other = sign_checkpoint("another-log", cp.size, cp.root, signer)
    with pytest.raises(CheckpointInvalid, match="is for log 'another-log', not 'samdops-audit'"):
        log.verify(signer.public_key_pem(), trusted=[other])


def test_log_without_checkpoint_does_not_verify(tmp_path: Path, signer: LocalEd25519Signer) -> None:
    audit = AuditLog.open(tmp_path / "fresh")
    audit.append(draft(1))
    with pytest.raises(CheckpointInvalid, match="the log has 1 entries but no checkpoint"):
        audit.verify(signer.public_key_pem())
    assert audit.verify(signer.public_key_pem(), require_checkpoint=False).size == 1


def test_verify_entry_rejects_a_changed_entry(log: AuditLog, signer: LocalEd25519Signer) -> None:
    cp = log.checkpoints()[-1]
    forge(log, 2, event=dataclasses.replace(log.record(2).event, reason="edited"))
    with pytest.raises(AuditVerificationError, match="entry 2 is not included") as info:
        AuditLog.open(store_of(log).root).verify_entry(2, cp, signer.public_key_pem())
    assert info.value.index == 2


# -- fail closed (AT-11) -------------------------------------------------------------------------


class BrokenStore(LocalEntryStore):
    def create_if_absent(self, seq: int, data: bytes) -> bool:
        raise AuditError(f"cannot write audit object {seq}: No space left on device")


def test_action_never_runs_when_the_append_fails(tmp_path: Path) -> None:
    audit = AuditLog(BrokenStore(tmp_path / "audit"))
    done: list[str] = []

    def promote() -> None:
        audit.append(draft(1))  # record first...
        done.append("promoted")  # ...act second

    with pytest.raises(AuditError, match="No space left on device"):
        promote()
    assert done == []
    assert len(audit) == 0


def test_unwritable_log_directory_fails_closed(tmp_path: Path) -> None:
    (tmp_path / "audit").mkdir()
    (tmp_path / "audit" / "entries").write_text("not a directory")
    with pytest.raises(AuditError, match=r"cannot list audit objects .* Not a directory"):
        AuditLog.open(tmp_path / "audit").append(draft(1))


def test_damaged_log_refuses_appends(log: AuditLog, signer: LocalEd25519Signer) -> None:
    entry_file(log, 4).unlink()
    with pytest.raises(AuditError, match="entry 4 is missing; refusing to use it"):
        AuditLog.open(store_of(log).root).append(draft(1))
    fresh = AuditLog.open(store_of(log).root.parent / "other")
    fresh.append(draft(1))
    overwrite(fresh.store.entry_path(0), b"garbage\n")  # type: ignore[attr-defined]
    with pytest.raises(AuditError, match="damaged, refusing to use it: entry 0 is not two lines"):
        AuditLog.open(store_of(log).root.parent / "other").append(draft(2))


def test_checkpoint_needs_a_signer(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="no signer"):
        AuditLog.open(tmp_path / "a").checkpoint()


# -- SIEM failures never lose entries ------------------------------------------------------------


class FlakySink:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self.checkpoints: list[Checkpoint] = []
        self.down = True

    def emit(self, record: AuditRecord) -> None:
        if self.down:
            raise ConnectionRefusedError("SIEM unreachable")
        self.records.append(record)

    def emit_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.checkpoints.append(checkpoint)


def test_sink_failure_keeps_the_entry_and_is_reported(
    tmp_path: Path, signer: LocalEd25519Signer, caplog: pytest.LogCaptureFixture
) -> None:
    sink = FlakySink()
    audit = AuditLog.open(tmp_path / "audit", signer=signer, sinks=[sink])
    with caplog.at_level(logging.ERROR, logger="samdops.audit"):
        record = audit.append(draft(1))
    assert len(audit) == 1 and audit.record(0) == record
    assert [(f.seq, f.error) for f in audit.sink_failures] == [
        (0, "ConnectionRefusedError: SIEM unreachable")
    ]
    assert "audit entry 0 is durable but" in caplog.text
    sink.down = False
    assert audit.replay(sink) == 1 and sink.records == [record]
    audit.checkpoint()
    assert [c.size for c in sink.checkpoints] == [1]


# -- keys ----------------------------------------------------------------------------------------


def test_private_key_is_private(tmp_path: Path, signer: LocalEd25519Signer) -> None:
    path = tmp_path / "keys" / "audit.pem"
    assert path.stat().st_mode & 0o777 == 0o600
    assert LocalEd25519Signer.load_or_create(path).key_id == signer.key_id
    assert signer.key_id in repr(signer) and "PRIVATE" not in repr(signer)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="has mode 0644; run `chmod 600"):
        LocalEd25519Signer.load(path)


def test_checkpoint_time_format() -> None:
    assert len(utc_timestamp()) == 24


# -- single-entry proofs carried by other records -----------------------------------------------


def test_entry_proof_verifies_offline_and_detects_edits(
    log: AuditLog, signer: LocalEd25519Signer
) -> None:
    checkpoint = log.checkpoints()[-1]
    doc = json.loads(json.dumps(entry_proof(log, 7, checkpoint)))  # survives a JSON round trip
    assert verify_entry_proof(doc, signer.public_key_pem()) == log.record(7)
    edited = {**doc, "entry": doc["entry"].replace("change 7", "change 8")}
    with pytest.raises(AuditVerificationError, match="entry 7 was altered") as info:
        verify_entry_proof(edited, signer.public_key_pem())
    assert info.value.index == 7
    moved = {**doc, "seq": 6}
    with pytest.raises(AuditVerificationError, match="entry 6 records sequence number 7"):
        verify_entry_proof(moved, signer.public_key_pem())
    bad_proof = {**doc, "inclusion_proof": ["sha256:" + "0" * 64] * 4}
    with pytest.raises(AuditVerificationError, match="entry 7 is not included in the checkpoint"):
        verify_entry_proof(bad_proof, signer.public_key_pem())


# -- the same attacks on an export (AT-08) -------------------------------------------------------


def _swap(lines: list[str], a: int, b: int) -> list[str]:
    lines[a], lines[b] = lines[b], lines[a]
    return lines


def _flip(lines: list[str], i: int) -> list[str]:
    lines[i] = lines[i].replace("change 4", "change 5")
    return lines


Attack = tuple[Callable[[list[str]], list[str]], str, int]
EXPORT_ATTACKS: dict[str, Attack] = {
    "flip": (lambda x: _flip(x, 4), "entry 4 was altered: its content hashes to", 4),
    "delete": (lambda x: x[:3] + x[4:], "entry 3 records sequence number 4", 3),
    "insert": (lambda x: [*x[:3], x[1], *x[3:]], "entry 3 records sequence number 1", 3),
    "reorder": (lambda x: _swap(x, 2, 6), "entry 2 records sequence number 6", 2),
    "truncate": (lambda x: x[:7], "entries 7 to 9 are missing (truncated)", 7),
    "append": (lambda x: [*x, x[0]], "entry 10 was added", 10),
}


@pytest.mark.parametrize("attack", sorted(EXPORT_ATTACKS))
def test_attacks_on_an_export_name_the_first_bad_entry(
    attack: str, log: AuditLog, signer: LocalEd25519Signer, tmp_path: Path
) -> None:
    export_log(log, tmp_path / "export", signer.public_key_pem())
    assert verify_export(tmp_path / "export", signer.public_key_pem()).size == SIZE
    path = tmp_path / "export" / "audit.jsonl"
    change, message, index = EXPORT_ATTACKS[attack]
    path.write_text("\n".join(change(path.read_text().splitlines())) + "\n")
    with pytest.raises(AuditVerificationError, match=re.escape(message)) as info:
        verify_export(tmp_path / "export", signer.public_key_pem())
    assert info.value.index == index


def test_export_with_a_replaced_checkpoint_signature_fails(
    log: AuditLog, signer: LocalEd25519Signer, tmp_path: Path
) -> None:
    export_log(log, tmp_path / "export", signer.public_key_pem())
    note = tmp_path / "export" / "checkpoint.note"
    forged = dataclasses.replace(Checkpoint.from_note(note.read_text()), signature=bytes(64))
    note.write_text(forged.to_note())
    with pytest.raises(CheckpointInvalid, match="has an invalid signature"):
        verify_export(tmp_path / "export", signer.public_key_pem())
