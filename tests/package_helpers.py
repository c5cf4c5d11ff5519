"""Helpers for the model package tests: a trained, reviewed home and byte flipping."""

from __future__ import annotations

from pathlib import Path

from samdops.governance.roles import Role
from samdops.governance.service import GovernedRegistry
from samdops.governance.signatures import Meaning
from tests.cli_helpers import train_pima

REVIEWER = ("quinn", "Quinn Q. Reviewer", "reviewer-password-1")


def trained_reviewed_home(base: Path) -> Path:
    """A home with the Pima model trained in process (~5 s) and signed for review by quinn."""
    home = base / "home"
    train_pima(home, base / "work")
    governed = GovernedRegistry(home, sinks=[])
    users = governed.users
    users.bootstrap_admin("admin", "Ada Admin", "admin-password-1")
    admin = users.authenticate("admin", "admin-password-1")
    user_id, name, password = REVIEWER
    users.add(admin, user_id, name, {Role.QA_REVIEWER}, temporary_password="temporary-pass-1")
    users.change_password(user_id, "temporary-pass-1", password)
    governed.sign("pima-diabetes-onset@1", Meaning.REVIEW, user_id, password)
    return home


def flip_byte(path: Path, offset: int | None = None) -> None:
    """Change one byte of ``path`` (in the middle, by default)."""
    data = bytearray(path.read_bytes())
    index = len(data) // 2 if offset is None else offset
    data[index] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))
