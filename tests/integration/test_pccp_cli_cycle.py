"""The whole change-control cycle through `samdops` and kfp.local (issue: PCCP).

train v1 -> sign and release v1 -> register and sign the PCCP -> retrain on new data -> gate ->
sign -> release v2 -> the audit log verifies.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from samdops.config import default_config_path
from tests.cli_helpers import create_users
from tests.cli_helpers import samdops as run_samdops
from tests.pima_like import write_pima_like

pytestmark = pytest.mark.slow
PW = {
    "admin": "admin-password-1",
    "eve": "engineer-password",
    "quinn": "reviewer-password",
    "max": "release-password1",
}


def test_train_release_retrain_release(tmp_path: Path) -> None:
    home = tmp_path / "home"

    def samdops(*args: str, stdin: str = "", ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = run_samdops(home, *args, stdin=stdin)
        if ok:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def sign(ref: str, meaning: str, user: str) -> None:
        samdops(
            "sign",
            ref,
            "--meaning",
            meaning,
            "--user",
            user,
            "--password-stdin",
            stdin=PW[user] + "\n",
        )

    def release(ref: str) -> None:
        sign(ref, "review", "quinn")
        sign(ref, "approval", "max")
        samdops(
            "promote",
            ref,
            "--to",
            "released",
            "--user",
            "max",
            "--password-stdin",
            stdin=PW["max"] + "\n",
        )

    samdops("run", "train")
    create_users(
        home,
        PW["admin"],
        {
            user: (role, f"{user.title()} Person", PW[user])
            for user, role in (
                ("eve", "ml-engineer"),
                ("quinn", "qa-reviewer"),
                ("max", "release-manager"),
            )
        },
    )
    v1 = "pima-diabetes-onset@1"
    release(v1)
    plan_file = default_config_path().parent / "pima-pccp.yaml"
    samdops(
        "pccp",
        "register",
        str(plan_file),
        "--user",
        "eve",
        "--password-stdin",
        stdin=PW["eve"] + "\n",
    )
    unsigned = samdops(
        "run",
        "retrain",
        "--plan",
        "pima-diabetes-onset",
        "--data",
        str(write_pima_like(tmp_path / "a.csv", 7)),
        "--user",
        "eve",
        "--password-stdin",
        stdin=PW["eve"] + "\n",
        ok=False,
    )
    assert unsigned.returncode == 2
    assert unsigned.stderr == (
        "samdops: error: PCCP pima-diabetes-onset v1 is validated (signatures: none); it is in "
        "force only after review and approval signatures\n"
    )
    sign("pccp-pima-diabetes-onset@1", "review", "quinn")
    sign("pccp-pima-diabetes-onset@1", "approval", "max")
    shown = samdops("pccp", "show", "pima-diabetes-onset").stdout
    assert "state approved" in shown and "signed: Max Person (max)" in shown

    retrained = samdops(
        "run",
        "retrain",
        "--plan",
        "pima-diabetes-onset",
        "--data",
        str(write_pima_like(tmp_path / "new.csv", 101)),
        "--user",
        "eve",
        "--password-stdin",
        stdin=PW["eve"] + "\n",
    )
    assert "  pccp-gate  ok" in retrained.stdout
    assert "PCCP pccp-pima-diabetes-onset@1: candidate (retrain-new-data)" in retrained.stdout
    v2 = "pima-diabetes-onset@2"
    release(v2)
    listed = samdops(
        "registry", "list", "--json", "--user", "max", "--password-stdin", stdin=PW["max"] + "\n"
    )
    listing = {m["id"]: m for m in json.loads(listed.stdout)}
    assert listing[v1]["state"] == "released" and listing[v2]["state"] == "released"
    run_dir = max((home / "runs").glob("retrain-*"))
    (root,) = list((run_dir / "pipeline-root").iterdir())
    assert (
        "Change under PCCP pima-diabetes-onset v1: candidate"
        in (root / "pccp-gate" / "summary").read_text()
    )
    key = tmp_path / "audit.pub.pem"
    key.write_bytes(samdops("audit", "public-key").stdout.encode())
    samdops("audit", "verify", "--public-key", str(key))
