"""``samdops reproduce``: rebuild a packaged model from the package alone and compare digests.

1. The package (a directory or its ``.tar``) must verify
   (:func:`~samdops.package.verify.verify_directory`, on the copy that is rebuilt).
2. Optionally, the running environment is compared with the packaged lock file
   (``check_env``): every pinned distribution must be installed at the pinned version.
3. In a fresh temporary directory, the training step's library call runs on the packaged
   training snapshot (checked against the digest the provenance states) with the packaged
   resolved configuration (seeds included).
   That read of patient data is recorded first (purpose *reproduce*, by ``by``, on the audit log
   at ``state``; :mod:`samdops.package.access`): if the log refuses, nothing is trained.
4. The new model's sha256 is compared with the packaged one; on a difference, the first
   differing field of the two model documents is reported.

``rebuild_env`` creates a virtual environment from the packaged lock (``pip install
--require-hashes``), installs this samdops into it without dependencies, and runs the same
reproduction there.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from samdops.audit.event import Actor
from samdops.audit.log import AuditLog
from samdops.config import TrainingConfig
from samdops.digest import sha256_file
from samdops.errors import ConfigError, VerificationError
from samdops.inputs import field, parse_json, regular_file
from samdops.package import layout as L
from samdops.package.access import DatasetRead, record_reproduce_read
from samdops.package.archive import open_package
from samdops.package.verify import package_json, package_text, verify_directory
from samdops.store.state import StateLocation

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


@dataclass(frozen=True)
class ReproduceResult:
    """The packaged and the rebuilt model digest, and the first difference if they differ."""

    packaged_sha256: str
    rebuilt_sha256: str
    first_difference: str | None
    env_mismatches: tuple[str, ...]
    seconds: float

    @property
    def match(self) -> bool:
        return self.packaged_sha256 == self.rebuilt_sha256


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(lock_text: str) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` line of a pip-compile/uv lock file."""
    pins = {}
    for line in lock_text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[_normal(match.group(1))] = match.group(2)
    return pins


def check_environment(lock_text: str) -> tuple[str, ...]:
    """One line per pinned distribution that is missing or at another version here."""
    installed = {_normal(d.metadata["Name"]): d.version for d in metadata.distributions()}
    out = []
    for name, version in sorted(lock_pins(lock_text).items()):
        have = installed.get(name)
        if have != version:
            out.append(f"{name}: locked {version}, installed {have or 'nothing'}")
    return tuple(out)


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """The first path at which two JSON values differ, with both values (shortened)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}/{key}: present in only one model"
            found = first_difference(a[key], b[key], f"{path}/{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for index, (x, y) in enumerate(zip(a, b, strict=False)):
            found = first_difference(x, y, f"{path}[{index}]")
            if found:
                return found
        return None if len(a) == len(b) else f"{path}: {len(a)} vs {len(b)} items"
    if isinstance(a, str) and isinstance(b, str) and a != b:
        at = next(
            (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
        )
        return (
            f"{path} at character {at}: packaged {a[at : at + 40]!r}, rebuilt {b[at : at + 40]!r}"
        )
    return None if a == b else f"{path}: packaged {a!r}, rebuilt {b!r}"


def reproduce_package(
    package: str | Path,
    *,
    by: Actor,
    state: str | Path | StateLocation | None = None,
    check_env: bool = False,
    train_snapshot: str | Path | None = None,
) -> ReproduceResult:
    """Rebuild the model of the package (directory or ``.tar``) ``package`` here and compare
    its digest; the package is verified first, in the same extracted copy that is rebuilt.
    The read of the training snapshot is recorded as ``by``'s on the audit log at ``state``."""
    from samdops.governance.service import GovernedRegistry

    started = time.monotonic()
    audit = GovernedRegistry(state or None).audit
    with open_package(package) as root:
        verify_directory(root, Path(package))
        return _reproduce(root, check_env, train_snapshot, started, audit, by)


def _reproduce(
    root: Path,
    check_env: bool,
    train_snapshot: str | Path | None,
    started: float,
    audit: AuditLog,
    by: Actor,
) -> ReproduceResult:
    import pyarrow.parquet as pq

    from samdops.training.train import train_from_config

    mismatches = check_environment(package_text(root, L.LOCK)) if check_env else ()
    config_text = package_text(root, L.CONFIG)
    parse_json(config_text, L.CONFIG, error=VerificationError)  # syntax and depth, one line
    config = TrainingConfig.from_json(config_text)
    datasets = package_json(root, L.DATASETS)
    trained_on = field(datasets, L.DATASETS, "train", "sha256", kind=str, error=VerificationError)
    if train_snapshot:
        snapshot = regular_file(train_snapshot, "training snapshot")
    else:
        snapshot = root / L.snapshot("train")
        if not snapshot.is_file():
            raise ConfigError(
                "the package holds no training snapshot (exported without data); pass --train "
                f"FILE with the snapshot whose sha256 is {trained_on}"
            )
    got = sha256_file(snapshot)
    if got != trained_on:
        raise VerificationError(
            f"{snapshot} hashes to {got}, but the model was trained on {trained_on}"
        )
    model_id = field(
        package_json(root, L.PACKAGE_FILE),
        L.PACKAGE_FILE,
        "model",
        kind=str,
        error=VerificationError,
    )
    rows = pq.ParquetFile(snapshot).metadata.num_rows
    record_reproduce_read(audit, by, model_id, DatasetRead("train", got, rows))
    packaged = sha256_file(root / L.MODEL_FILE)
    with tempfile.TemporaryDirectory(prefix="samdops-reproduce-") as tmp:
        work = Path(tmp)
        result = train_from_config(snapshot, config, work / "model.json", work / "comparator.json")
        difference = None
        if result.model_sha256 != packaged:
            difference = (
                first_difference(
                    package_json(root, L.MODEL_FILE, object),
                    json.loads((work / "model.json").read_bytes()),
                )
                or "the documents are equal but their bytes differ"
            )
    return ReproduceResult(
        packaged, result.model_sha256, difference, mismatches, time.monotonic() - started
    )


def rebuild_environment(package: str | Path, venv: str | Path) -> Path:
    """Create a virtual environment at ``venv`` from the packaged lock; return its python.

    The package (directory or ``.tar``) is verified first. Installs every locked distribution
    with ``--require-hashes`` (from the package index the machine is configured for), then this
    samdops without dependencies. Takes minutes.
    """
    target = Path(venv)
    if target.exists() or target.is_symlink():
        raise ConfigError(f"{target} exists; give a new directory for the rebuilt environment")
    source = Path(__file__).resolve().parents[3]
    if not (source / "pyproject.toml").is_file():
        raise ConfigError(f"cannot find the samdops source tree to install (looked in {source})")
    with open_package(package) as root:
        verify_directory(root, Path(package))
        subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
        python = target / "bin" / "python"
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run(
            [*pip, "--require-hashes", "--no-deps", "-r", str(root / L.LOCK)], check=True
        )
    subprocess.run([*pip, "--no-deps", str(source)], check=True)
    return python
