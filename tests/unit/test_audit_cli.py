"""``samdops audit checkpoint | verify | export`` through the real CLI entry point."""

from __future__ import annotations

import json
import os
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
from samdops.cli import main
from samdops.governance.launch import os_account

OS_ID = f"os:{os_account()}"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SAMDOPS_HOME", str(tmp_path / "home"))
    log = AuditLog.open(tmp_path / "home" / "audit")
    for i in range(6):
        log.append(
            EventDraft(
                actor=Actor("carol", AuthMethod.PASSWORD_OTP),
                action=Action.STATE_CHANGE,
                target=Target("model/pima", str(i)),
                source=Source(SourceKind.CLI, "samdops registry approve"),
                details={"from": "validated", "to": "approved"},
            )
        )
    return tmp_path / "home"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def public_key(home: Path, tmp_path: Path) -> str:
    pem = tmp_path / "trusted.pem"
    signer = LocalEd25519Signer.load(home / "keys" / "audit-ed25519.pem")
    pem.write_bytes(signer.public_key_pem())
    return str(pem)


def test_checkpoint_then_verify(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "audit", "checkpoint")
    assert status == 0 and out.startswith("samdops-audit\n6\n")
    key = public_key(home, tmp_path)
    status, out, _ = run(capsys, "audit", "verify", "--public-key", key)
    assert status == 0
    assert out.startswith("audit log OK: 6 entries, checkpoint at size 6, root sha256:")
    assert out.endswith("1 checkpoints checked, 0 entries after the latest checkpoint\n")


def test_verify_names_the_first_bad_entry_in_one_line(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "audit", "checkpoint")
    (home / "audit" / "entries" / "000000000002.entry").unlink()
    status, out, err = run(capsys, "audit", "verify", "--public-key", public_key(home, tmp_path))
    assert status == 2 and out == ""
    assert err == ("samdops: error: entry 2 is missing: the log jumps from entry 1 to entry 3\n")


def test_verify_one_entry_against_a_checkpoint_file(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, note, _ = run(capsys, "audit", "checkpoint")
    checkpoint = tmp_path / "anchored.note"
    checkpoint.write_text(note)
    key = public_key(home, tmp_path)
    args = ("audit", "verify", "--public-key", key, "--checkpoint", str(checkpoint))
    status, out, _ = run(capsys, *args, "--entry", "4")
    assert status == 0 and out.startswith("entry 4 (sha256:")
    status, _, err = run(capsys, *args, "--entry", "6")
    assert status == 2 and "entry 6 is not covered by the checkpoint at size 6" in err
    status, out, _ = run(capsys, *args)  # whole log, with the anchored checkpoint as well
    assert status == 0 and "2 checkpoints checked" in out


def test_export_and_verify_the_export_offline(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "export"
    status, out, _ = run(capsys, "audit", "export", "--out", str(out_dir))
    # 7: the export is itself on the record (entry 6, by the OS account: no users yet)
    assert status == 0 and out == f"exported 7 entries to {out_dir}\n"
    assert sorted(os.listdir(out_dir)) == [
        "audit.jsonl",
        "checkpoint.note",
        "public-key.pem",
        "report.html",
        "report.txt",
    ]
    report = (out_dir / "report.txt").read_text()
    assert "#3  " in report and "STATE_CHANGE  model/pima@3" in report and "to: approved" in report
    assert f"exported by: {OS_ID} (local_os_user), entry 6\n" in report
    lines = (out_dir / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 7 and all(json.loads(x)["tree_size"] == 7 for x in lines)
    assert len(json.loads(lines[0])["inclusion_proof"]) == 3

    key = public_key(home, tmp_path)
    status, out, _ = run(capsys, "audit", "verify", "--export", str(out_dir), "--public-key", key)
    assert status == 0 and out.startswith("export OK: 7 entries included in checkpoint")

    tampered = json.loads(lines[3])
    tampered["entry"] = tampered["entry"].replace("carol", "mallory")
    lines[3] = json.dumps(tampered)
    (out_dir / "audit.jsonl").write_text("\n".join(lines) + "\n")
    status, _, err = run(capsys, "audit", "verify", "--export", str(out_dir), "--public-key", key)
    assert status == 2
    assert err.startswith("samdops: error: entry 3 was altered: its content hashes to sha256:")

    (out_dir / "audit.jsonl").write_text("\n".join(lines[:2]) + "\n")
    status, _, err = run(capsys, "audit", "verify", "--export", str(out_dir), "--public-key", key)
    assert err == (
        "samdops: error: the export has 2 entries but its checkpoint covers 7: "
        "entries 2 to 6 are missing (truncated)\n"
    )


def test_export_signed_by_another_key_is_refused(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "audit", "export", "--out", str(tmp_path / "export"))
    other = LocalEd25519Signer.load_or_create(tmp_path / "other.pem")
    (tmp_path / "other.pub").write_bytes(other.public_key_pem())
    status, _, err = run(
        capsys,
        "audit",
        "verify",
        "--export",
        str(tmp_path / "export"),
        "--public-key",
        str(tmp_path / "other.pub"),
    )
    assert status == 2 and f"not by the trusted key {other.key_id}" in err


def test_entry_needs_a_checkpoint(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "audit", "checkpoint")
    status, _, err = run(capsys, "audit", "verify", "--entry", "1")
    assert status == 2 and "--entry needs --checkpoint FILE" in err


def test_missing_log_directory_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "audit", "verify", "--log", str(tmp_path / "nope"))
    assert status == 2
    missing = tmp_path / "nope"
    assert err == f"samdops: error: no audit log at {missing}; pass --log DIR or --state LOC\n"


def test_public_key_export_is_usable_for_verification(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "audit", "checkpoint")
    status, pem, err = run(capsys, "audit", "public-key")
    assert status == 0 and pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert err.startswith("key id sha256:")
    (tmp_path / "exported.pem").write_text(pem)
    status, out, _ = run(capsys, "audit", "verify", "--public-key", str(tmp_path / "exported.pem"))
    assert status == 0 and out.startswith("audit log OK: 6 entries")
