"""VAL-02: a package verifies offline, and every kind of change is caught and named.

One model is trained in process (~5 s), signed for review and exported once for the module; each
test works on its own copy.
"""

from __future__ import annotations

import base64
import json
import shutil
from functools import partial
from pathlib import Path

import pytest

from samdops.audit.event import Actor, AuthMethod
from samdops.audit.signer import LocalEd25519Signer
from samdops.cli import main
from samdops.errors import ConfigError, PackageVerificationError, VerificationError
from samdops.launch.compiler import compile_pipeline
from samdops.package import layout as L
from samdops.package import model_signing, verify_package
from samdops.package.dsse import pae
from samdops.package.export import export_package as _export_package
from samdops.package.manifest import MANIFEST_FILE, MANIFEST_SIGNATURE
from samdops.package.verify import inspect_package
from tests.package_helpers import flip_byte, trained_reviewed_home

# As `samdops package export` does: compile the spec when the store lacks it.
EXPORTER = Actor("os:exporter", AuthMethod.LOCAL_OS_USER)
export_package = partial(_export_package, compile_spec=compile_pipeline, by=EXPORTER)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("package")
    home = trained_reviewed_home(base)
    export_package("pima-diabetes-onset@1", base / "pkg", state=home)
    return base / "pkg"


@pytest.fixture
def package(exported: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    return copy


def _failures(package: Path) -> tuple[str, ...]:
    report = inspect_package(package)
    assert not report.ok
    return report.failures


def test_the_export_verifies_with_its_signature_in_the_card(package: Path) -> None:
    report = verify_package(package)
    assert [s.ok for s in report.steps] == [True] * 8
    card = json.loads((package / L.CARD_JSON).read_bytes())
    (signature,) = card["integrity"]["signatures"]
    assert (signature["name"], signature["meaning"]) == ("Quinn Q. Reviewer", "review")
    markdown = (package / L.CARD_MD).read_text()
    for field in ("Intended use", "Inputs", "mg/dL", "95% CI", "Subgroups", "Calibration"):
        assert field in markdown
    assert "Quinn Q. Reviewer | quinn |" in markdown


def test_flipping_one_byte_of_any_file_names_that_file(exported: Path, tmp_path: Path) -> None:
    files = sorted(p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file())
    assert len(files) >= 30 and MANIFEST_FILE in files and L.MODEL_SIG in files
    for index, rel in enumerate(files):
        copy = tmp_path / str(index)
        shutil.copytree(exported, copy)
        flip_byte(copy / rel)
        failures = _failures(copy)
        assert any(f.startswith(rel) for f in failures), (rel, failures)


def test_missing_and_added_files_are_named(package: Path) -> None:
    (package / L.snapshot("test")).unlink()
    (package / "data" / "extra.csv").write_text("a,b\n")
    failures = _failures(package)
    assert f"{L.snapshot('test')}: listed in {MANIFEST_FILE} but missing" in failures
    assert f"data/extra.csv: not in {MANIFEST_FILE} (added after export)" in failures


def test_a_swapped_model_signature_fails(package: Path, tmp_path: Path) -> None:
    other = model_signing.load_or_create_key(tmp_path / "other.pem")
    model_signing.sign_model(package / L.MODEL_DIR, other, package / L.MODEL_SIG)
    failures = _failures(package)
    assert any(f.startswith(f"{L.MODEL_SIG}: ") and "another key" in f for f in failures)
    assert any(f.startswith(f"{L.MODEL_SIG}: hashes to") for f in failures)


def test_a_swapped_provenance_signature_fails(package: Path, tmp_path: Path) -> None:
    envelope = json.loads((package / L.PROVENANCE).read_bytes())
    forger = LocalEd25519Signer.load_or_create(tmp_path / "forger.pem")
    payload = base64.b64decode(envelope["payload"])
    forged = forger.sign(pae(envelope["payloadType"], payload))
    envelope["signatures"][0]["sig"] = base64.b64encode(forged).decode()
    (package / L.PROVENANCE).write_text(json.dumps(envelope))
    failures = _failures(package)
    assert f"{L.PROVENANCE}: the DSSE signature by key " in next(
        f for f in failures if f.startswith(f"{L.PROVENANCE}: the DSSE")
    )


def test_a_swapped_manifest_signature_fails(package: Path, tmp_path: Path) -> None:
    envelope = json.loads((package / MANIFEST_SIGNATURE).read_bytes())
    forger = LocalEd25519Signer.load_or_create(tmp_path / "forger.pem")
    forged = forger.sign(pae(envelope["payloadType"], base64.b64decode(envelope["payload"])))
    envelope["signatures"][0]["sig"] = base64.b64encode(forged).decode()
    (package / MANIFEST_SIGNATURE).write_text(json.dumps(envelope))
    failures = _failures(package)
    assert any(f.startswith(f"{MANIFEST_SIGNATURE}: the DSSE signature") for f in failures)


def test_an_edited_record_breaks_its_e_signature(package: Path) -> None:
    record = json.loads((package / L.RECORD).read_bytes())
    record["status"] = "released"
    (package / L.RECORD).write_bytes(
        json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    )
    failures = _failures(package)
    assert any(
        f.startswith(f"{L.RECORD}: e-signature by quinn (review): signature by quinn")
        and "the record was changed after signing" in f
        for f in failures
    ), failures
    assert any(f.startswith(f"{L.RECORD}: hashes to") for f in failures)


def test_the_cli_names_the_file_and_exits_1(
    package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["package", "verify", str(package)]) == 0
    assert (
        capsys.readouterr().out.rstrip().endswith("VERIFIED: every file, signature and proof holds")
    )
    flip_byte(package / L.CARD_HTML)
    assert main(["package", "verify", str(package)]) == 1
    out = capsys.readouterr().out
    assert f"   - {L.CARD_HTML}: hashes to sha256:" in out
    assert "3. every file re-hashed against the manifest: FAILED" in out
    with pytest.raises(PackageVerificationError, match=r"card/model-card\.html"):
        verify_package(package)


def test_export_is_deterministic_and_refuses_a_non_empty_target(
    exported: Path, tmp_path: Path
) -> None:
    home = exported.parent / "home"
    again = export_package("pima-diabetes-onset@1", tmp_path / "again", state=home, tar=True)
    for path in exported.rglob("*"):
        if path.is_file():
            rel = path.relative_to(exported)
            assert (again.directory / rel).read_bytes() == path.read_bytes(), rel
    assert again.archive is not None
    verify_package(again.archive)
    with pytest.raises(ConfigError, match="exists and is not empty"):
        export_package("pima-diabetes-onset@1", again.directory, state=home)


def test_trusted_keys_must_equal_the_packaged_ones(package: Path, tmp_path: Path) -> None:
    trusted = tmp_path / "trusted"
    shutil.copytree(package / "keys", trusted)
    assert inspect_package(package, trusted_keys=trusted).ok
    other = LocalEd25519Signer.load_or_create(tmp_path / "other.pem")
    (trusted / "audit.pub.pem").write_bytes(other.public_key_pem())
    failures = inspect_package(package, trusted_keys=trusted).failures
    assert failures == (f"{L.AUDIT_PUB}: not the trusted key {trusted / 'audit.pub.pem'}",)


def test_a_package_without_data_verifies_and_reproduce_asks_for_the_snapshot(
    exported: Path, tmp_path: Path
) -> None:
    from samdops.package.reproduce import reproduce_package

    home = exported.parent / "home"
    result = export_package(
        "pima-diabetes-onset@1", tmp_path / "nodata", state=home, include_data=False
    )
    assert not (result.directory / "data" / "train.parquet").exists()
    verify_package(result.directory)
    sheet = json.loads((result.directory / L.datasheet("train", "json")).read_bytes())
    assert sheet["included_as"] is None and sheet["storage_uri"].startswith("file://")
    with pytest.raises(ConfigError, match=r"pass --train FILE with the snapshot whose sha256 is"):
        reproduce_package(result.directory, by=EXPORTER, state=home)
    wrong = exported / L.snapshot("test")
    with pytest.raises(VerificationError, match="but the model was trained on"):
        reproduce_package(result.directory, by=EXPORTER, state=home, train_snapshot=wrong)
    train = exported / L.snapshot("train")
    done = reproduce_package(result.directory, by=EXPORTER, state=home, train_snapshot=train)
    assert done.match and done.first_difference is None


def test_a_signature_dropped_from_the_shown_record_is_caught(package: Path) -> None:
    shown = json.loads((package / L.GOVERNED).read_bytes())
    shown["signatures"] = []
    (package / L.GOVERNED).write_text(json.dumps(shown))
    failures = _failures(package)
    assert f"{L.GOVERNED}: signatures differ from those in the audit entries" in failures
    assert any(f.startswith(f"{L.CARD_JSON}: signatures differ") for f in failures)
