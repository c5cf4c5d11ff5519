"""The whole lifecycle through the `samdops` command: train, sign, release, verify the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from samdops.governance.service import GovernedRegistry
from tests.cli_helpers import create_users, samdops, train_pima

PASSWORD = {
    "admin": "admin-password-1",
    "quinn": "reviewer-password",
    "max": "release-password",
    "audrey": "auditor-password",
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a model trained in process (same steps as the pipeline) and three users."""
    home = tmp_path_factory.mktemp("gov") / "home"
    train_pima(home, home.parent / "work")
    create_users(
        home,
        PASSWORD["admin"],
        {
            "quinn": ("qa-reviewer", "Quinn Q. Reviewer", PASSWORD["quinn"]),
            "max": ("release-manager", "Max R. Manager", PASSWORD["max"]),
            "audrey": ("auditor", "Audrey Auditor", PASSWORD["audrey"]),
        },
    )
    return home


def test_sign_release_and_show(home: Path) -> None:
    ref = "pima-diabetes-onset@1"
    refused = samdops(
        home,
        "sign",
        ref,
        "--meaning",
        "approval",
        "--user",
        "max",
        "--password-stdin",
        stdin=PASSWORD["max"] + "\n",
    )
    assert refused.returncode == 2
    assert refused.stderr == (
        "samdops: error: pima-diabetes-onset@1 is validated; it cannot become approved "
        "(allowed next: rejected, reviewed)\n"
    )
    for user, meaning in (("quinn", "review"), ("max", "approval")):
        done = samdops(
            home,
            "sign",
            ref,
            "--meaning",
            meaning,
            "--user",
            user,
            "--password-stdin",
            stdin=PASSWORD[user] + "\n",
        )
        assert done.returncode == 0, done.stderr
    released = samdops(
        home,
        "promote",
        ref,
        "--to",
        "released",
        "--user",
        "max",
        "--password-stdin",
        stdin=PASSWORD["max"] + "\n",
    )
    assert released.returncode == 0, released.stderr
    assert released.stdout.startswith(f"{ref}  state released")
    assert "  signed: Quinn Q. Reviewer (quinn), " in released.stdout
    reader = ("--user", "audrey", "--password-stdin")
    stdin = PASSWORD["audrey"] + "\n"
    listing = json.loads(samdops(home, "registry", "list", "--json", *reader, stdin=stdin).stdout)
    (model,) = listing
    assert model["state"] == "released" and model["trained_by"] == "eve"
    assert [(s["name"], s["meaning"]) for s in model["signatures"]] == [
        ("Quinn Q. Reviewer", "review"),
        ("Max R. Manager", "approval"),
    ]
    export = home.parent / "export"
    exported = samdops(home, "audit", "export", "--out", str(export), *reader, stdin=stdin)
    assert exported.returncode == 0, exported.stderr
    report = (export / "report.txt").read_text()
    assert "    signature: Quinn Q. Reviewer (quinn), 20" in report and ", review\n" in report
    text = samdops(home, "registry", "list", *reader, stdin=stdin).stdout
    assert "signed: Max R. Manager (max)" in text and ", approval" in text


def test_wrong_password_is_one_line(home: Path) -> None:
    done = samdops(
        home,
        "sign",
        "pima-diabetes-onset@1",
        "--meaning",
        "review",
        "--user",
        "quinn",
        "--password-stdin",
        stdin="not-the-password\n",
    )
    assert done.returncode == 2
    assert done.stderr == ("samdops: error: authentication failed for 'quinn'; 2 attempt(s) left\n")


def test_audit_log_verifies_after_the_cycle(home: Path) -> None:
    test_sign_release_and_show  # noqa: B018 (ordering: runs after the lifecycle above)
    key = home / "keys" / "audit.pub.pem"
    key.write_bytes(GovernedRegistry(home, sinks=[]).audit_key.public_key_pem())
    done = samdops(home, "audit", "verify", "--log", str(home / "audit"), "--public-key", str(key))
    assert done.returncode == 0, done.stderr
