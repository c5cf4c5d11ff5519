"""`samdops doctor` on a local home: one line per check, what is wrong and how to fix it.

The doctor only reads: every test also checks that it left the file tree as it was.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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
from samdops.audit.anchor import Witness
from samdops.cli import main

NO_ANCHOR_LINE = (
    "anchor: not configured no anchor outside the state, so a rollback of the audit log cannot "
    "be detected; set SAMDOPS_AUDIT_WITNESS, an ocsf+file:// SIEM destination or an S3 state "
    "with Object Lock retention"
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in (
        "SAMDOPS_STATE",
        "SAMDOPS_SIEM",
        "SAMDOPS_AUDIT_WITNESS",
        "SAMDOPS_AUDIT_REQUIRE_ANCHOR",
        "VAULT_ADDR",
        "VAULT_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAMDOPS_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def draft(i: int, **details: str) -> EventDraft:
    return EventDraft(
        actor=Actor("rhea", AuthMethod.PASSWORD_OTP),
        action=Action.SIGN if details else Action.STATE_CHANGE,
        target=Target("pima-diabetes-onset", str(i)),
        source=Source(SourceKind.CLI, "samdops promote"),
        details=details or {"to": "approved"},
    )


def audit_key(home: Path) -> Path:
    return home / "keys" / "audit-ed25519.pem"


def write_log(home: Path, entries: int = 3, *, witness: Path | None = None) -> AuditLog:
    """A log of ``entries`` entries, checkpointed after each (to ``witness`` too)."""
    sinks = [Witness(str(witness))] if witness else []
    log = AuditLog.open(
        home / "audit", signer=LocalEd25519Signer.load_or_create(audit_key(home)), sinks=sinks
    )
    for i in range(entries):
        log.append(draft(i))
        log.checkpoint()
    return log


def tree(root: Path) -> dict[str, tuple[int, int, float]]:
    """Every path under ``root`` with its mode, size and modification time."""
    found = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        found[str(path.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime)
    return found


def doctor(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, list[str]]:
    """Run `samdops doctor`; check that it changed nothing under ``root``."""
    before = tree(root)
    status = main(["doctor", *args])
    out = capsys.readouterr().out
    assert tree(root) == before, "doctor wrote something"
    return status, out.splitlines()


def line(lines: list[str], check: str) -> str:
    [found] = [x for x in lines if x.startswith(f"{check}: ")]
    return found


def test_a_fresh_home_is_healthy_and_stays_empty(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines = doctor(capsys, tmp_path)
    assert status == 0
    assert lines == [
        f"state: ok {home} (a directory, not created yet: the first run creates it)",
        "vault: not configured VAULT_ADDR is unset: secrets come from the environment and local "
        "keys sign",
        f"s3: not configured the state is the directory {home}",
        f"keys: ok audit key: none yet (the first one that signs creates {audit_key(home)}); "
        "e-signature key: none yet (the first one that signs creates "
        f"{home / 'keys' / 'esign-ed25519.pem'})",
        f"audit: ok no entries yet at {home}/audit",
        NO_ANCHOR_LINE,
    ]
    assert not home.exists()


def test_an_intact_log_passes_every_check(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(home)
    key_id = LocalEd25519Signer.load(audit_key(home)).key_id
    status, lines = doctor(capsys, tmp_path)
    assert status == 0
    assert line(lines, "state") == f"state: ok {home} (a directory)"
    assert line(lines, "keys") == (
        f"keys: ok audit key {audit_key(home)} ({key_id}); e-signature key: none yet (the first "
        f"one that signs creates {home / 'keys' / 'esign-ed25519.pem'})"
    )
    assert line(lines, "audit") == (
        f"audit: ok 3 entries at {home}/audit, checkpoint at size 3 (root "
        f"sha256:{log.root().hex()}), 3 checkpoints verified, 0 entries after the latest"
    )


def test_a_tampered_entry_fails_the_audit_check_naming_it(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_log(home, witness=tmp_path / "witness")
    monkeypatch.setenv("SAMDOPS_AUDIT_WITNESS", str(tmp_path / "witness"))
    entry = home / "audit" / "entries" / f"{1:012d}.entry"
    entry.chmod(0o644)
    data = bytearray(entry.read_bytes())
    data[data.index(b"approved")] ^= 0x01  # one flipped bit
    entry.write_bytes(bytes(data))
    status, lines = doctor(capsys, tmp_path)
    assert status == 1
    audit = line(lines, "audit")
    assert audit.startswith("audit: FAIL entry 1 ")
    assert audit.endswith(
        "; the log or its checkpoints were altered, or the signing key replaced: keep the state "
        "as evidence and see `samdops audit verify`"
    )
    assert line(lines, "keys").startswith("keys: ok ")  # the other checks still report
    assert line(lines, "anchor") == (
        "anchor: skipped the anchors are compared with the log, and the audit check did not "
        "pass (see audit)"
    )


def test_a_deleted_entry_is_named(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_log(home)
    (home / "audit" / "entries" / f"{1:012d}.entry").unlink()
    status, lines = doctor(capsys, tmp_path)
    assert status == 1
    assert line(lines, "audit").startswith(
        "audit: FAIL entry 1 is missing: the log jumps from entry 0 to entry 2"
    )


def test_a_missing_audit_key_fails_and_the_log_is_only_chained(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(home)
    key_id = log.checkpoints()[-1].key_id
    audit_key(home).unlink()
    status, lines = doctor(capsys, tmp_path)
    assert status == 1
    assert line(lines, "keys") == (
        f"keys: FAIL the audit key {audit_key(home)} is missing, but the log holds checkpoints "
        f"made with key {key_id}; restore it from a backup (a new key cannot vouch for them)"
    )
    assert line(lines, "audit") == (
        f"audit: skipped 3 entries at {home}/audit read and chained, but their 3 signed "
        "checkpoints need the signing key, and the keys check did not pass (see keys)"
    )
    assert not audit_key(home).exists()  # the doctor did not make a new one


def test_a_key_others_can_read_fails_with_the_fix(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_log(home)
    audit_key(home).chmod(0o644)
    status, lines = doctor(capsys, tmp_path)
    assert status == 1
    assert line(lines, "keys") == (
        f"keys: FAIL signing key {audit_key(home)} has mode 0644; run `chmod 600 {audit_key(home)}`"
    )


def test_a_key_that_is_not_a_key_fails(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_log(home)
    audit_key(home).write_bytes(b"not a key\n")
    status, lines = doctor(capsys, tmp_path)
    assert status == 1
    assert line(lines, "keys").startswith(f"keys: FAIL {audit_key(home)} is not a PEM private key")


def test_a_replaced_audit_key_fails_the_audit_check(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(home)
    old = log.checkpoints()[0].key_id
    audit_key(home).unlink()
    new = LocalEd25519Signer.load_or_create(audit_key(home)).key_id
    status, lines = doctor(capsys, tmp_path)
    assert status == 1
    assert line(lines, "audit").startswith(
        f"audit: FAIL checkpoint at size 1 is signed by key {old}, not by the trusted key {new}"
    )


def test_e_signatures_made_with_another_key_fail_the_keys_check(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(home, 1)
    other = "sha256:" + "ab" * 32
    log.append(draft(1, meaning="review", **{"sig.key_id": other}))
    log.checkpoint()
    esign = home / "keys" / "esign-ed25519.pem"
    mine = LocalEd25519Signer.load_or_create(esign).key_id
    status, lines = doctor(capsys, tmp_path)
    assert status == 1
    assert line(lines, "keys") == (
        f"keys: FAIL the e-signature key {esign} is {mine}, but the log holds e-signatures made "
        f"with {other}: they will not verify; restore the key that made them"
    )
    assert line(lines, "audit").startswith("audit: ok 2 entries")


def test_a_witness_that_disagrees_with_the_log_fails(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    witness = tmp_path / "witness"
    write_log(home, 5, witness=witness)
    monkeypatch.setenv("SAMDOPS_AUDIT_WITNESS", str(witness))
    status, lines = doctor(capsys, tmp_path)
    assert status == 0
    assert line(lines, "anchor") == (
        f"anchor: ok witness {witness}: checkpoint at size 5 matches the log"
    )
    # Roll back: the last two entries and their checkpoints go; the witness keeps its copies.
    for n in (3, 4):
        (home / "audit" / "entries" / f"{n:012d}.entry").unlink()
    for n in (4, 5):
        (home / "audit" / "checkpoints" / f"{n:012d}.note").unlink()
    status, lines = doctor(capsys, tmp_path)
    assert status == 1
    assert line(lines, "audit").startswith("audit: ok 3 entries")  # the log alone looks whole
    anchor = line(lines, "anchor")
    assert anchor.startswith(
        f"anchor: FAIL witness {witness}: the log has 3 entries but the witness {witness} holds "
        "its checkpoint at size 5, root sha256:"
    )
    assert anchor.endswith("entries 3 to 4 were deleted (a rollback)")


def test_a_witness_that_holds_checkpoints_of_a_log_without_a_key_fails(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    witness = tmp_path / "witness"
    write_log(home, 2, witness=witness)
    monkeypatch.setenv("SAMDOPS_AUDIT_WITNESS", str(witness))
    for path in [*(home / "audit").rglob("*.*"), audit_key(home)]:
        path.unlink()  # the whole log and its key deleted
    status, lines = doctor(capsys, tmp_path)
    assert status == 1
    assert line(lines, "anchor") == (
        f"anchor: FAIL witness {witness}: holds 2 checkpoints of this log, but the log has no "
        "signing key: it was rolled back or its key deleted; restore both from a backup"
    )


def test_a_required_anchor_that_is_missing_fails(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMDOPS_AUDIT_REQUIRE_ANCHOR", "1")
    status, lines = doctor(capsys, tmp_path)
    assert status == 1
    assert line(lines, "anchor") == NO_ANCHOR_LINE.replace("not configured", "FAIL", 1)


def test_a_state_that_is_not_a_directory_skips_what_needs_it(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    status, lines = doctor(capsys, tmp_path, "--state", str(tmp_path / "file"))
    assert status == 1
    assert line(lines, "state").startswith(
        f"state: FAIL the state location {tmp_path / 'file'} is not a directory"
    )
    assert line(lines, "audit") == (
        "audit: skipped it needs the state location, and the state check did not pass (see state)"
    )
    assert line(lines, "vault").startswith("vault: not configured")


def test_an_unreachable_vault_fails_on_one_line(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setenv("VAULT_ADDR", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("VAULT_TOKEN", "s.doctor-test-token")
    write_log(home)
    status, lines = doctor(capsys, tmp_path)
    assert status == 1
    assert len(lines) == 6
    assert line(lines, "vault") == (
        f"vault: FAIL cannot log in to Vault at http://127.0.0.1:{port}: Vault is unreachable "
        "(Connection refused) (gave up after 4 attempts); check VAULT_ADDR and the Vault "
        "credentials (VAULT_TOKEN, VAULT_ROLE_ID and VAULT_SECRET_ID, or SAMDOPS_VAULT_ROLE)"
    )
    assert "doctor-test-token" not in "\n".join(lines)
    assert line(lines, "keys") == (
        "keys: skipped the Transit key is in Vault, and the vault check did not pass (see vault)"
    )
    assert line(lines, "audit").startswith(f"audit: skipped 3 entries at {home}/audit read")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An address that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_a_hanging_vault_does_not_hang_the_doctor(
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    silent_server: str,
) -> None:
    monkeypatch.setenv("VAULT_ADDR", silent_server)
    monkeypatch.setenv("VAULT_TOKEN", "s.doctor-test-token")
    started = time.monotonic()
    status, lines = doctor(capsys, tmp_path, "--timeout", "1")
    assert time.monotonic() - started < 5
    assert status == 1
    assert line(lines, "vault").startswith("vault: FAIL no answer within 1 s; check VAULT_ADDR")
    assert [x.split(":")[0] for x in lines] == ["state", "vault", "s3", "keys", "audit", "anchor"]


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan"])
def test_a_bad_timeout_is_a_usage_error(
    home: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["doctor", "--timeout", value])
    assert exited.value.code == 2
    assert "argument --timeout" in capsys.readouterr().err


def test_an_unreadable_audit_log_fails(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_log(home)
    entries = home / "audit" / "entries"
    for path in entries.iterdir():
        path.unlink()
    entries.rmdir()
    entries.write_text("")  # a file where the entries' directory was
    status, lines = doctor(capsys, tmp_path)
    assert status == 1
    assert line(lines, "audit").startswith(f"audit: FAIL cannot list audit objects in {entries}")
