"""`make cluster-test`: the cluster's flows with every step in its own container (issue 15).

Each step runs in a container of the component image (podman, host network), and the steps
share nothing but the state location on S3 (moto), Vault (OpenBao) and the pipeline root, as
pods do. The flows: Pima training -> registration; review, approval and release; retraining
under the PCCP -> candidate; a monitoring window with a critical alert -> retraining ->
candidate; `samdops audit verify` of the log on S3; `samdops package export` of the released
model from S3 and `package verify`. The host's home must hold no durable record, and every one
must be in the bucket. One summary line: flows passed, containers run, wall time.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from samdops.governance.service import GovernedRegistry
from samdops.hospital.columns import LABEL_ARRIVAL
from tests.conftest import PIMA_CSV
from tests.integration.conftest import PREFIX, S3State
from tests.integration.test_pccp_cycle import NAME, PLAN_FILE, PW, release_under_plan
from tests.pima_like import pima_like

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


def _put(state: S3State, key: str, frame: pd.DataFrame) -> str:
    data = io.BytesIO()
    frame.to_parquet(data, index=False)
    size = data.tell()
    data.seek(0)
    state.server.client().put_object(state.bucket, key, data, size)
    return f"s3://{state.bucket}/{key}"


def _containers(home: Path) -> int:
    """Step containers the runs started (the container runner logs each image it runs)."""
    logs = (p.read_text(encoding="utf-8") for p in (home / "runs").glob("*/kfp-local.log"))
    return sum(len(re.findall(r"^\s*Found image '", log, flags=re.M)) for log in logs)


def test_the_cluster_flows_run_in_containers_sharing_only_s3_and_vault(
    s3_state: S3State,
    podman_api: str,
    tmp_path: Path,
    summary_line: Callable[[str], None],
) -> None:
    started = time.monotonic()
    env = {**os.environ, **s3_state.env, "DOCKER_HOST": podman_api}
    flows: list[str] = []
    eve = ("--user", "eve", "--password-stdin")  # signed in: the launcher of the run

    def cli(*args: str, stdin: str = "", **extra: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "samdops.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=1200,
            env={**env, **extra},
        )
        assert done.returncode == 0, f"samdops {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    trained = cli("run", "train", "--runner", "container")  # no users yet: the OS account
    assert f"registered {NAME}@1 (status registered)" in trained
    assert (
        "model sha256   sha256:9b70716bf008ea35eea8cad05a349817759746842553b3840d1908963710ff4f"
        in trained
    )
    flows.append("train")

    release_under_plan(s3_state.location, f"{NAME}@1", PLAN_FILE)
    assert GovernedRegistry(sinks=[]).get(f"{NAME}@1").state.value == "released"
    flows.append("release")

    new_data = tmp_path / "new.csv"
    pima_like(101).to_csv(new_data, index=False)
    retrained = cli(
        "run", "retrain", "--plan", NAME, "--data", str(new_data), "--runner", "container",
        *eve, stdin=PW["eve"] + "\n",
    )  # fmt: skip
    assert f"PCCP pccp-{NAME}@1: candidate (retrain-new-data)" in retrained
    flows.append("retrain")

    reference = tmp_path / "reference.parquet"
    pd.read_csv(PIMA_CSV).assign(record_id=range(768)).to_parquet(reference)
    cohort = pd.read_csv(PIMA_CSV).sample(500, random_state=11).reset_index(drop=True)
    cohort["record_id"] = range(10_000, 10_500)
    arrived = cohort.iloc[:350][["record_id", "Outcome"]].assign(**{LABEL_ARRIVAL: 1.0})
    # The outcome now means something else (a new definition): the model ranks it wrongly.
    _put(s3_state, "windows/relabelled.parquet", cohort.drop(columns=["Outcome"]))
    _put(s3_state, "windows/relabelled-labels.parquet", arrived.assign(Outcome=1 - arrived.Outcome))
    retrain_data = tmp_path / "after-alert.csv"
    pima_like(102).to_csv(retrain_data, index=False)
    windows = f"s3://{s3_state.bucket}/windows"
    monitored = cli(
        "run", "monitor", "--runner", "container",
        "--reference", str(reference),
        "--current", f"{windows}/{{window}}.parquet",
        "--labels", f"{windows}/{{window}}-labels.parquet",
        "--window", "relabelled", "--model", f"{NAME}@1",
        "--id-column", "record_id", "--time-column", "", "--admission-column", "",
        "--categorical", "", "--retrain-plan", NAME, "--retrain-data", str(retrain_data),
        *eve, stdin=PW["eve"] + "\n",
    )  # fmt: skip
    assert "alert: critical concept_drift" in monitored, monitored
    assert f"retrained: {NAME}@3 (candidate)" in monitored, monitored
    flows.append("monitor")

    verified = cli("audit", "verify")
    assert "audit log OK:" in verified and "0 entries after the latest checkpoint" in verified
    flows.append("audit verify")

    package = tmp_path / "package"
    exporter = {"SAMDOPS_HOME": str(tmp_path / "exporter")}  # the exporter's own keys
    exported = cli(
        "package", "export", f"{NAME}@1", str(package), "--user", "max", "--password-stdin",
        stdin=PW["max"] + "\n", **exporter,
    )  # fmt: skip
    assert f"exported {NAME}@1" in exported
    assert "VERIFIED: every file, signature and proof holds" in cli(
        "package", "verify", str(package)
    )
    flows.append("package")

    # Nothing durable on the host: the home holds only the runs' logs and pipeline roots.
    home = s3_state.home
    assert [p.name for p in home.iterdir()] == ["runs"]
    durable = ("registry", "audit", "identity", "monitoring", "store", "keys")
    assert not [p for p in home.rglob("*") if p.name in durable]
    names = s3_state.object_names()
    kinds = {name.split("/")[1] for name in names}
    assert kinds == {"store", "registry", "audit", "identity", "monitoring"}
    models = sorted(n for n in names if n.startswith(f"{PREFIX}/registry/models/{NAME}/"))
    assert [n.rsplit("/", 1)[1] for n in models] == ["000001.json", "000002.json", "000003.json"]
    assert any(n.startswith(f"{PREFIX}/monitoring/{NAME}_1/history/") for n in names)
    assert any("/labels/scored/relabelled/" in n for n in names)
    containers = _containers(home)
    assert containers == 5 + 6 + 9  # train, retrain, monitor with its retraining
    wall = time.monotonic() - started

    # Side by side: the same training, each step a subprocess, on a state of its own in S3.
    compared = cli("run", "train", "--state", f"s3://{s3_state.bucket}/compare")
    in_containers, as_subprocesses = (_took(out) for out in (trained, compared))
    summary_line(
        f"cluster-test: {len(flows)} flows passed ({', '.join(flows)}), {containers} "
        f"containers run, {wall:.0f} s wall; Pima training {in_containers:.1f} s in containers "
        f"vs {as_subprocesses:.1f} s as subprocesses ({in_containers / as_subprocesses:.1f}x)"
    )


def _took(output: str) -> float:
    (seconds,) = re.findall(r"^  took ([0-9.]+) s$", output, flags=re.M)
    return float(seconds)
