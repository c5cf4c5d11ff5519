"""Rollback detection without a person in the loop (issue #16, item 3).

``samdops audit verify`` compares the log with the checkpoints held outside the state: the
witness (``$SAMDOPS_AUDIT_WITNESS``), an ``ocsf+file://`` SIEM stream and the S3 WORM copy.
Each attack of the issue is first shown to pass verification with no anchor, then to fail with
one, naming the anchor and the checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from samdops.audit import (
    Action,
    Actor,
    AuditLog,
    AuthMethod,
    EventDraft,
    LocalEd25519Signer,
    OcsfFileSink,
    Source,
    SourceKind,
    Target,
)
from samdops.audit.anchor import (
    SiemFile,
    Witness,
    anchor_status,
    configured_anchors,
    read_anchors,
)
from samdops.audit.checkpoint import Checkpoint, sign_checkpoint
from samdops.audit.verify import verify_log
from samdops.cli import main
from samdops.errors import AuditError, CheckpointInvalid, ConfigError
from samdops.governance.service import sinks_from_env

WARNING = (
    "warning: no anchor outside the state is configured; a rollback cannot be detected (set "
    "SAMDOPS_AUDIT_WITNESS, an ocsf+file:// SIEM destination or an S3 state with Object Lock "
    "retention)\n"
)


def draft(i: int, to: str = "approved") -> EventDraft:
    return EventDraft(
        actor=Actor("rhea", AuthMethod.PASSWORD_OTP),
        action=Action.STATE_CHANGE,
        target=Target("pima-diabetes-onset", str(i)),
        source=Source(SourceKind.CLI, "samdops promote"),
        details={"to": to},
    )


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SAMDOPS_STATE", "SAMDOPS_SIEM", "SAMDOPS_AUDIT_WITNESS", "VAULT_ADDR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SAMDOPS_AUDIT_REQUIRE_ANCHOR", raising=False)
    monkeypatch.setenv("SAMDOPS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def signer(home: Path) -> LocalEd25519Signer:
    return LocalEd25519Signer.load_or_create(home / "keys" / "audit-ed25519.pem")


def pem(home: Path) -> str:
    path = home.parent / "trusted.pem"
    path.write_bytes(signer(home).public_key_pem())
    return str(path)


def governed_log(home: Path, sizes: tuple[int, ...] = (12, 15)) -> AuditLog:
    """A log checkpointed at each of ``sizes``, with the sinks the governed registry uses."""
    log = AuditLog.open(home / "audit", signer=signer(home), sinks=sinks_from_env())
    for size in sizes:
        with log.covered():  # one checkpoint at ``size``
            while len(log) < size:
                log.append(draft(len(log)))
    return log


def roll_back(home: Path, size: int, checkpoints: tuple[int, ...]) -> None:
    """Delete entries ``size..`` and the checkpoints at ``checkpoints`` (what the issue did)."""
    for path in sorted((home / "audit" / "entries").iterdir())[size:]:
        path.unlink()
    for n in checkpoints:
        (home / "audit" / "checkpoints" / f"{n:012d}.note").unlink()


def verify(capsys: pytest.CaptureFixture[str], home: Path, *extra: str) -> tuple[int, str, str]:
    status = main(["audit", "verify", "--public-key", pem(home), *extra])
    out, err = capsys.readouterr()
    return status, out, err


def root_at(log: AuditLog, size: int) -> str:
    return log.root(size).hex()


# -- the failures of the issue, reproduced without an anchor -----------------------------------


def test_without_an_anchor_a_rollback_passes_but_verify_warns(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    governed_log(home)
    roll_back(home, 12, (15,))
    status, out, err = verify(capsys, home)
    assert status == 0
    assert out.startswith("audit log OK: 12 entries, checkpoint at size 12")
    assert err == WARNING


@pytest.mark.parametrize("flag", ["--require-anchor", "env"])
def test_a_demanding_deployment_fails_without_an_anchor(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    governed_log(home)
    if flag == "env":
        monkeypatch.setenv("SAMDOPS_AUDIT_REQUIRE_ANCHOR", "true")
    status, out, err = verify(capsys, home, *([flag] if flag != "env" else []))
    assert status == 2 and out == ""
    assert err == (
        "samdops: error: no anchor outside the state is configured, so a rollback of the audit "
        "log cannot be detected; set SAMDOPS_AUDIT_WITNESS, an ocsf+file:// SIEM destination or "
        "an S3 state with Object Lock retention\n"
    )


def test_a_syslog_siem_is_named_as_write_only(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMDOPS_SIEM", "syslog+udp://127.0.0.1:9")
    governed_log(home, (3,))
    status, _, err = verify(capsys, home, "--require-anchor")
    assert status == 2
    assert err.startswith(
        "samdops: error: no anchor outside the state is configured "
        "(SyslogSink(udp://127.0.0.1:9) is write-only), so a rollback"
    )


def test_a_bad_require_anchor_value_is_one_line(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    governed_log(home, (3,))
    monkeypatch.setenv("SAMDOPS_AUDIT_REQUIRE_ANCHOR", "maybe")
    status, _, err = verify(capsys, home)
    assert (status, err) == (
        2,
        "samdops: error: SAMDOPS_AUDIT_REQUIRE_ANCHOR must be 1 or 0 (true or false)\n",
    )


# -- the witness -------------------------------------------------------------------------------


@pytest.fixture
def witness(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = home.parent / "witness"
    monkeypatch.setenv("SAMDOPS_AUDIT_WITNESS", str(path))
    return path


@pytest.mark.parametrize(
    ("sizes", "size", "deleted", "what"),
    [
        # the issue: the latest checkpoint and the entries after the previous one
        ((12, 15), 12, (15,), "entries 12 to 14 were"),
        # the head: the last entry (a refused attempt) and the checkpoint that covers it
        ((12, 14, 15), 14, (15,), "entry 14 was"),
        # everything
        ((12, 15), 0, (12, 15), "entries 0 to 14 were"),
    ],
)
def test_the_witness_catches_a_rollback(
    home: Path,
    witness: Path,
    capsys: pytest.CaptureFixture[str],
    sizes: tuple[int, ...],
    size: int,
    deleted: tuple[int, ...],
    what: str,
) -> None:
    log = governed_log(home, sizes)
    root = root_at(log, 15)
    roll_back(home, size, deleted)
    status, out, err = verify(capsys, home)
    assert status == 2 and out == ""
    assert err == (
        f"samdops: error: the log has {size} entries but the witness {witness} holds its "
        f"checkpoint at size 15, root sha256:{root}: {what} deleted (a rollback)\n"
    )


def test_an_intact_log_matches_the_witness(
    home: Path, witness: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    governed_log(home)
    status, out, err = verify(capsys, home, "--require-anchor")
    assert status == 0 and err == ""
    assert out.endswith(f"anchor witness {witness}: checkpoint at size 15 matches the log\n")
    assert sorted(p.name for p in (witness / "checkpoints").iterdir()) == [
        "000000000012.note",
        "000000000015.note",
    ]


def test_a_rewrite_re_signed_with_the_stolen_local_key_is_caught(
    home: Path, witness: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    genuine = governed_log(home, (6,))
    root = root_at(genuine, 6)
    roll_back(home, 0, (6,))
    forged = AuditLog.open(home / "audit", signer=signer(home))  # no sinks: done by hand
    with forged.covered():
        for i in range(6):
            forged.append(draft(i, to="released"))
    assert forged.verify(signer(home).public_key_pem()).size == 6  # self-consistent
    status, _, err = verify(capsys, home)
    assert status == 2
    assert err == (
        f"samdops: error: the witness {witness} holds the checkpoint at size 6, root "
        f"sha256:{root}, but entries 0 to 5 hash to sha256:{root_at(forged, 6)}: an entry "
        "from 0 to 5 was rewritten and the log re-signed\n"
    )


def test_the_witness_refuses_another_root_at_a_size_it_holds(home: Path, witness: Path) -> None:
    governed_log(home, (3, 4))
    roll_back(home, 3, (4,))
    log = AuditLog.open(home / "audit", signer=signer(home), sinks=sinks_from_env())
    log.append(draft(99))
    log.checkpoint()  # the log takes it; the witness does not
    assert [f.error for f in log.sink_failures] == [
        f"AuditError: the witness {witness} already holds another checkpoint at size 4: the log "
        "was rolled back or forked; run `samdops audit verify`"
    ]


def test_a_forged_checkpoint_in_the_witness_is_named(
    home: Path, witness: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    governed_log(home, (3,))
    other = LocalEd25519Signer.load_or_create(home.parent / "other.pem")
    forged = sign_checkpoint("samdops-audit", 9, b"\x01" * 32, other)
    Witness(str(witness)).emit_checkpoint(forged)
    status, _, err = verify(capsys, home)
    assert status == 2
    assert err == (
        f"samdops: error: checkpoint at size 9 is signed by key {other.key_id}, not by the "
        f"trusted key {signer(home).key_id} (held by the witness {witness})\n"
    )


def test_an_empty_witness_is_said_and_audit_checkpoint_anchors_the_log(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    governed_log(home, (5,))  # before the witness was configured
    witness = home.parent / "witness"
    monkeypatch.setenv("SAMDOPS_AUDIT_WITNESS", str(witness))
    status, out, err = verify(capsys, home)
    assert status == 0
    assert out.endswith(f"anchor witness {witness}: holds no checkpoint of this log yet\n")
    assert err == (
        "warning: no anchor holds a checkpoint of this log yet; a rollback cannot be detected "
        "(run `samdops audit checkpoint` to anchor the log as it is now)\n"
    )
    assert verify(capsys, home, "--require-anchor")[1:] == (
        "",
        "samdops: error: no anchor holds a checkpoint of this log yet, so a rollback of the "
        "audit log cannot be detected; run `samdops audit checkpoint` to anchor the log as it "
        "is now\n",
    )
    assert main(["audit", "checkpoint"]) == 0
    status, out, err = verify(capsys, home, "--require-anchor")
    assert (status, err) == (0, "")
    assert out.endswith("checkpoint at size 5 matches the log\n")


@pytest.mark.parametrize("where", ["home", "state"])
def test_a_witness_inside_the_state_is_refused(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    where: str,
) -> None:
    governed_log(home, (2,))
    if where == "state":
        monkeypatch.setenv("SAMDOPS_STATE", str(home))
        monkeypatch.setenv("SAMDOPS_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("SAMDOPS_AUDIT_WITNESS", str(home / "witness"))
    status = main(["audit", "verify", "--public-key", pem(home)])
    _, err = capsys.readouterr()
    assert status == 2
    assert err == (
        f"samdops: error: SAMDOPS_AUDIT_WITNESS lies inside {home}; the witness must be held "
        "outside the state location and the samdops home\n"
    )


def test_an_unreachable_witness_fails_closed(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    governed_log(home, (2,))
    blocked = home.parent / "witness-file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("SAMDOPS_AUDIT_WITNESS", str(blocked / "w"))
    status, _, err = verify(capsys, home)
    assert status == 2
    assert err.startswith(f"samdops: error: the witness {blocked / 'w'} is unreachable (cannot ")
    assert err.endswith(
        "a rollback cannot be ruled out without it: make it reachable or remove it from the "
        "settings\n"
    )
    assert "\n" not in err[:-1]


def test_a_witness_with_another_scheme_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMDOPS_AUDIT_WITNESS", "https://user:secret@example.org/w")
    with pytest.raises(ConfigError) as info:
        sinks_from_env()
    assert str(info.value) == (
        "SAMDOPS_AUDIT_WITNESS has scheme 'https'; give a directory or s3://BUCKET/PREFIX"
    )


# -- the SIEM stream ---------------------------------------------------------------------------


@pytest.fixture
def siem(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = home.parent / "siem" / "ocsf.jsonl"
    monkeypatch.setenv("SAMDOPS_SIEM", f"ocsf+file://{path}")
    return path


def test_the_siem_stream_catches_a_rollback(
    home: Path, siem: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = governed_log(home)
    root = root_at(log, 15)
    roll_back(home, 12, (15,))
    status, _, err = verify(capsys, home)
    assert status == 2
    assert err == (
        f"samdops: error: the log has 12 entries but the SIEM file {siem} holds its checkpoint "
        f"at size 15, root sha256:{root}: entries 12 to 14 were deleted (a rollback)\n"
    )


def test_the_siem_stream_skips_other_logs_and_foreign_lines(
    home: Path, siem: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    governed_log(home, (4,))
    other = LocalEd25519Signer.load_or_create(home.parent / "other.pem")
    OcsfFileSink(siem).emit_checkpoint(sign_checkpoint("samdops-audit", 40, b"\x02" * 32, other))
    with siem.open("ab") as f:
        f.write(b'{"api":{"operation":"checkpoint"}, broken\n[1]\n\xff\xfe\n{"api":"x"}\n')
        f.write(b'{"api":{"operation":"checkpoint"},"unmapped":{"checkpoint":7}}\n')
    status, out, err = verify(capsys, home, "--require-anchor")
    assert (status, err) == (0, "")
    assert out.endswith(f"anchor SIEM file {siem}: checkpoint at size 4 matches the log\n")


def test_a_malformed_checkpoint_in_the_siem_stream_is_named(home: Path, siem: Path) -> None:
    siem.parent.mkdir(parents=True)
    event = {"api": {"operation": "checkpoint"}, "unmapped": {"checkpoint": "not a note"}}
    siem.write_text("{}\n" + json.dumps(event) + "\n")
    with pytest.raises(CheckpointInvalid) as info:
        SiemFile(OcsfFileSink(siem)).read()
    assert str(info.value) == (
        f"line 2 of the SIEM file {siem} holds a malformed checkpoint: checkpoint is not a note "
        "of 4 body lines and 1 signature"
    )


def test_an_unreadable_siem_file_fails_closed(home: Path, siem: Path) -> None:
    siem.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(AuditError) as info:
        read_anchors(configured_anchors().readable)
    assert str(info.value).startswith(
        f"the SIEM file {siem} is unreachable (cannot read the SIEM file {siem}: Is a directory)"
    )


def test_siem_lines_of_any_bytes_give_checkpoints_or_the_projects_error(tmp_path: Path) -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")
    path = tmp_path / "ocsf.jsonl"
    op = b'"operation":"checkpoint"'

    @hypothesis.settings(max_examples=200, deadline=None)
    @hypothesis.given(st.lists(st.binary(max_size=80) | st.just(op) | st.just(b"{" + op)))
    def check(lines: list[bytes]) -> None:
        path.write_bytes(b"\n".join(lines))
        try:
            found = OcsfFileSink(path).checkpoints()
        except CheckpointInvalid:
            return
        assert all(isinstance(c, Checkpoint) for c in found)

    check()


# -- anchor_status (for `samdops doctor`) ------------------------------------------------------


def test_anchor_status_says_per_anchor_reachable_and_how_it_compares(
    home: Path, witness: Path, siem: Path, tmp_path: Path
) -> None:
    log = governed_log(home, (3,))
    log.sinks = ()
    log.append(draft(3))
    log.checkpoint()  # neither anchor gets this one
    gone = Witness(str(tmp_path / "file" / "w"))
    (tmp_path / "file").write_text("")
    anchors = (*configured_anchors().readable, gone)
    key = signer(home).public_key_pem()
    status = anchor_status(log.store, key, anchors)
    assert [(s.anchor, s.reachable, s.ok, s.size) for s in status] == [
        (f"witness {witness}", True, True, 3),
        (f"SIEM file {siem}", True, True, 3),
        (f"witness {tmp_path / 'file' / 'w'}", False, False, None),
    ]
    assert (
        status[0].detail
        == "checkpoint at size 3 matches the log; the entry after it is not anchored"
    )
    roll_back(home, 2, (3, 4))
    rolled = anchor_status(log.store, key, anchors[:1])
    assert rolled[0].reachable and not rolled[0].ok
    assert rolled[0].detail.startswith("the log has 2 entries but the witness")


def test_verify_log_without_anchors_is_unchanged(home: Path) -> None:
    log = governed_log(home, (3,))
    verified = verify_log(log.store, signer(home).public_key_pem())
    assert (verified.size, verified.anchors) == (3, ())
