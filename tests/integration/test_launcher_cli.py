"""Issue 16 through the real command: `SAMDOPS_ACTOR=nobody-else samdops run train` does not let
the person who launched the run review their own model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import samdops

pytestmark = pytest.mark.slow
ADMIN = "admin-password-1"
ALICE = "engineer-and-reviewer"


def _ok(home: Path, *args: str, stdin: str = "") -> str:
    done = samdops(home, *args, stdin=stdin)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_an_actor_variable_does_not_let_the_launcher_review_their_own_model(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    _ok(home, "users", "bootstrap", "--id", "admin", "--name", "Ada Admin", "--password-stdin",
        stdin=ADMIN + "\n")  # fmt: skip
    _ok(home, "users", "add", "alice", "--name", "Alice", "--role", "ml-engineer",
        "--role", "qa-reviewer", "--user", "admin", "--password-stdin",
        stdin=f"{ADMIN}\ntemporary-password\n")  # fmt: skip
    _ok(home, "users", "passwd", "--user", "alice", "--password-stdin",
        stdin=f"temporary-password\n{ALICE}\n")  # fmt: skip
    hostile = {"SAMDOPS_ACTOR": "nobody-else", "USER": "nobody-else", "LOGNAME": "nobody-else"}

    unsigned = samdops(home, "run", "train", env=hostile)
    assert (unsigned.returncode, unsigned.stderr) == (
        2,
        "samdops: error: this state location has users: sign in to launch a run "
        "(--user ID --password-stdin)\n",
    )
    trained = samdops(
        home, "run", "train", "--user", "alice", "--password-stdin", stdin=ALICE + "\n", env=hostile
    )
    assert trained.returncode == 0, trained.stdout + trained.stderr
    ref = "pima-diabetes-onset@1"
    shown = json.loads(
        _ok(home, "registry", "show", ref, "--json", "--user", "alice", "--password-stdin",
            stdin=ALICE + "\n")
    )  # fmt: skip
    assert shown["trained_by"] == "alice"

    review = samdops(
        home, "sign", ref, "--meaning", "review", "--user", "alice", "--password-stdin",
        stdin=ALICE + "\n", env=hostile,
    )  # fmt: skip
    assert (review.returncode, review.stdout, review.stderr) == (
        2,
        "",
        f"samdops: error: alice trained or registered {ref} and cannot review it "
        "(separation of duties)\n",
    )
