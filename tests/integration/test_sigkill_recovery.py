"""Issue #16, fail closed: `samdops run train` killed (SIGKILL, whole process group) at every step
boundary leaves a registry that is either empty or holds a complete record, and an audit log that
verifies once the next start has recovered (its preflight, before its first step)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from samdops.governance.lifecycle import State
from samdops.governance.records import Registry
from samdops.governance.service import GovernedRegistry
from tests.conftest import REPO

pytestmark = pytest.mark.slow

WAIT = 300.0  # seconds for a boundary to show up (a loaded 2-core machine)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# where to kill: a task starting (kfp.local's "Executing task 'NAME'"), the register step's first
# audit entry (the model's CREATE event) written, the register task finished (the command has
# not returned yet)
BOUNDARIES = [
    "ingest",
    "validate",
    "train",
    "evaluate",
    "register",
    "registration entry",
    "register finished",
]
NOTHING_YET = {"ingest", "validate", "train", "evaluate"}  # before anything is registered


def _start(home: Path) -> subprocess.Popen[bytes]:
    """`samdops run train --home HOME` in its own process group (session)."""
    log = open(home.parent / f"out-{time.monotonic_ns()}.txt", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "samdops.cli", "run", "train", "--home", str(home)],
        cwd=REPO,
        env={**os.environ, "SAMDOPS_HOME": str(home)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _reached(home: Path, boundary: str, runs_before: set[Path]) -> bool:
    if boundary == "registration entry":
        return any(b'"model-registration"' in entry.read_bytes() for entry in _entries(home))
    for log in (home / "runs").glob("*/kfp-local.log"):
        if log.parent in runs_before:
            continue
        text = _ANSI.sub("", log.read_text(encoding="utf-8", errors="replace"))
        if boundary == "register finished":
            if "Task 'register' finished" in text:
                return True
        elif f"Executing task '{boundary}'" in text:
            return True
    return False


def _kill_at(home: Path, boundary: str) -> float:
    """Start a run, SIGKILL its whole process group at ``boundary``; return the seconds taken."""
    runs_before = set((home / "runs").glob("*")) if (home / "runs").exists() else set()
    started = time.monotonic()
    process = _start(home)
    try:
        while not _reached(home, boundary, runs_before):
            if process.poll() is not None:
                pytest.fail(f"the run exited with {process.returncode} before {boundary!r}")
            if time.monotonic() - started > WAIT:
                pytest.fail(f"the run did not reach {boundary!r} in {WAIT:.0f} s")
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # every step subprocess of the group is gone
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("processes of the killed run's group are still alive")
    assert process.returncode == -signal.SIGKILL
    return time.monotonic() - started


def _entries(home: Path) -> list[Path]:
    return sorted((home / "audit" / "entries").glob("*.entry"))


def _verify(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samdops.cli", "audit", "verify", "--state", str(home)],
        cwd=REPO,
        env={**os.environ, "SAMDOPS_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _complete_records(home: Path) -> list[str]:
    """The ids of the records in the registry; each must be complete (audited, validated)."""
    governed = GovernedRegistry(home, sinks=[])
    ids = [r.id for r in Registry(home).records()]
    assert sorted(m.record.id for m in governed.models()) == sorted(ids)  # no event without record
    for ident in ids:
        model = governed.get(ident)  # its record matches the digest its audit event recorded
        assert model.state == State.VALIDATED, f"{ident} is {model.state.value}"
    return ids


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_a_run_killed_at_a_step_boundary_leaves_nothing_or_a_complete_record(
    tmp_path: Path, boundary: str, summary_line: Callable[[str], None]
) -> None:
    home = tmp_path / "home"
    took = _kill_at(home, boundary)
    if boundary in NOTHING_YET:
        assert not (home / "registry" / "models").exists()
    # the next start recovers in its preflight, before its first step: kill it there
    recovered = _kill_at(home, "importer")
    ids = _complete_records(home)
    if boundary in NOTHING_YET:
        assert ids == []
    elif boundary == "register finished":
        assert ids == ["pima-diabetes-onset@1"]
    if _entries(home):
        done = _verify(home)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "0 entries after the latest checkpoint" in done.stdout
    summary_line(
        f"sigkill at {boundary!r}: killed after {took:.1f} s, next start recovered "
        f"in {recovered:.1f} s, records {ids}"
    )
