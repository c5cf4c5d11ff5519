"""The model package end to end (VAL-02, VAL-03): export, copy, verify offline, the official
model-signing CLI, reproduce, S3 versus local store, and the model card in a real browser."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tarfile
import time
from functools import partial
from pathlib import Path

import pytest

from samdops.launch.compiler import compile_pipeline
from samdops.package import layout as L
from samdops.package.export import export_package as _export_package
from tests.package_helpers import flip_byte, trained_reviewed_home
from tests.unit.test_package_access import STAFF, add_staff

# As `samdops package export` does: compile the spec when the store lacks it.
export_package = partial(_export_package, compile_spec=compile_pipeline)

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
MODEL = "pima-diabetes-onset@1"


def samdops(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samdops.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        input=stdin,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = trained_reviewed_home(tmp_path_factory.mktemp("pkg-int"))
    add_staff(home)  # max, a release manager, exports
    return home


@pytest.fixture(scope="module")
def archive(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "pima-1"
    started = time.monotonic()
    done = samdops(
        "package",
        "export",
        "latest",
        str(out),
        "--tar",
        *("--user", "max", "--password-stdin"),
        cwd=out.parent,
        env={"SAMDOPS_HOME": str(home)},
        stdin=STAFF["max"][1] + "\n",
    )
    assert done.returncode == 0, done.stderr
    print(f"export took {time.monotonic() - started:.1f} s (CLI, cold imports)")
    assert f"exported {MODEL} (sha256:" in done.stdout
    return out.with_name("pima-1.tar")


@pytest.fixture
def clean_copy(archive: Path, tmp_path: Path) -> Path:
    """The archive unpacked in a directory that has never seen the samdops home."""
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "clean", filter="data")
    return tmp_path / "clean" / "pima-1"


def test_register_step_outputs_the_model_card_markdown(home: Path) -> None:
    summary = (home.parent / "work" / "summary.md").read_text()
    assert summary.startswith(f"# {MODEL}: gate PASSED")
    assert f"# Model card: {MODEL}" in summary and "| Glucose | mg/dL | 20 to 600 |" in summary


def test_copied_package_verifies_offline_and_names_a_flipped_byte(
    clean_copy: Path, tmp_path: Path
) -> None:
    offline = {"SAMDOPS_HOME": str(tmp_path / "no-home"), "HOME": str(tmp_path)}
    started = time.monotonic()
    done = samdops("package", "verify", str(clean_copy), cwd=tmp_path, env=offline)
    print(f"verify took {time.monotonic() - started:.1f} s (CLI, cold imports)")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("VERIFIED: every file, signature and proof holds")
    assert not (tmp_path / "no-home").exists()  # verification wrote nothing and needed no home
    flip_byte(clean_copy / L.snapshot("train"))
    bad = samdops("package", "verify", str(clean_copy), cwd=tmp_path, env=offline)
    assert bad.returncode == 1
    assert f"   - {L.snapshot('train')}: hashes to sha256:" in bad.stdout
    assert "FAILED: 2 problem(s)" in bad.stdout  # the manifest and the provenance both name it


def test_the_official_model_signing_cli_verifies_the_weights(
    clean_copy: Path, tmp_path: Path
) -> None:
    # The official command from PyPI model-signing (locked as a dev dependency); a real
    # installation elsewhere can be used instead through $SAMDOPS_MODEL_SIGNING_CLI.
    cli = os.environ.get("SAMDOPS_MODEL_SIGNING_CLI") or str(
        Path(sys.executable).parent / "model_signing"
    )
    env = dict(os.environ)
    args = ["verify", "key", str(clean_copy / "model"), "--signature"]
    args += [str(clean_copy / L.MODEL_SIG), "--public_key", str(clean_copy / L.SIGNING_PUB)]
    done = subprocess.run([cli, *args], capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Verification succeeded" in done.stdout + done.stderr
    flip_byte(clean_copy / L.MODEL_FILE)
    tampered = subprocess.run([cli, *args], capture_output=True, text=True, check=False, env=env)
    assert tampered.returncode != 0 and "model.json" in tampered.stdout + tampered.stderr


def test_reproduce_gives_match(clean_copy: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    done = samdops(
        "reproduce",
        str(clean_copy),
        "--check-env",
        cwd=tmp_path,
        env={"SAMDOPS_HOME": str(tmp_path / "no-home")},
    )
    print(f"reproduce took {time.monotonic() - started:.1f} s (CLI, cold imports)")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "environment matches the packaged lock"
    assert lines[-1] == "MATCH"
    packaged, rebuilt = (line.split()[2] for line in lines[1:3])
    assert packaged == rebuilt and packaged.startswith("sha256:")


def test_reproduce_in_an_environment_rebuilt_from_the_packaged_lock(
    clean_copy: Path, tmp_path: Path
) -> None:
    """The slowest test (~75 s): a new venv from the package's lock, then training in it."""
    done = samdops(
        "reproduce",
        str(clean_copy),
        "--rebuild-env",
        str(tmp_path / "rebuilt"),
        cwd=tmp_path,
        env={"SAMDOPS_HOME": str(tmp_path / "no-home")},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert "environment matches the packaged lock" in lines
    assert lines[-1] == "MATCH"
    assert (tmp_path / "rebuilt" / "bin" / "python").exists()


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="headless Chromium is not installed (apt-get install chromium)"
)
def test_the_model_card_renders_in_headless_chromium(clean_copy: Path, tmp_path: Path) -> None:
    png = tmp_path / "model-card.png"
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            "--window-size=1200,2000",
            (clean_copy / L.CARD_HTML).resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 2000)
    assert len(data) > 100_000  # a page full of text and tables, not a blank one
    keep = os.environ.get("SAMDOPS_SCREENSHOT_DIR")
    if keep:
        shutil.copy(png, Path(keep) / png.name)
