"""Monitoring what was served: the simulated ICU played hour by hour against a server of the
registered sepsis model (`samdops simulate hospital --live`), its labels into the label feed,
then `samdops run monitor` (the kfp.local pipeline) on a day of the prediction log."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from samdops.governance.service import GovernedRegistry
from samdops.hospital.columns import CATEGORICAL_SPEC, ICULOS
from samdops.monitoring.registered_model import load_registered_model
from samdops.store.state import open_state
from tests.cli_helpers import samdops
from tests.conftest import REPO
from tests.prediction_log import record_for, write_segment
from tests.serving_helpers import SEPSIS, STAFF, Server, released_sepsis_home
from tests.unit.test_live_player import FakeServer

pytestmark = pytest.mark.slow
REFERENCE = REPO / "data" / "sepsis-reference.parquet"


@pytest.fixture(scope="module")
def sepsis_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return released_sepsis_home(tmp_path_factory.mktemp("served"))


def _monitor(home: Path, window: str) -> tuple[list[str], dict[str, Any]]:
    done = samdops(
        home,
        *("run", "monitor", "--reference", str(REFERENCE)),
        *("--current", f"predictions://{SEPSIS}", "--labels", f"labels://{SEPSIS}"),
        *("--window", window, "--model", f"{SEPSIS}@1", "--state", str(home)),
        *("--id-column", "patient_id", "--time-column", "Time", "--admission-column", ICULOS),
        *("--categorical", CATEGORICAL_SPEC, "--user", "quinn", "--password-stdin"),
        stdin=STAFF["quinn"][2] + "\n",
    )
    assert done.returncode == 0, done.stderr
    (findings,) = (home / "runs").glob("*/*/*/drift-monitor/findings")
    return done.stdout.splitlines(), json.loads(findings.read_text())


def test_run_monitor_watches_a_day_of_what_a_fake_server_of_the_model_answered(
    sepsis_home: Path, tmp_path: Path
) -> None:
    home = Path(shutil.copytree(sepsis_home, tmp_path / "home"))
    state = open_state(home)
    model = load_registered_model(GovernedRegistry(home, sinks=[]), f"{SEPSIS}@1")

    def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        rows = pd.DataFrame({i["name"]: i["data"] for i in body["inputs"]}).astype(float)
        risk = model.score(rows)
        write_segment(state, [record_for(body["id"], rows, risk, model=f"{SEPSIS}@1")])
        return 200, {"outputs": [{"name": "risk", "data": [float(r) for r in risk]}]}

    fake = FakeServer(home, answer)
    try:
        played = samdops(
            home,
            *("simulate", "hospital", "--scenario", "no_drift", "--days", "3", "--seed", "8"),
            *("--beds", "25", "--live", fake.url, "--state", str(home)),
        )
    finally:
        fake.stop()
    assert played.returncode == 0, played.stderr
    assert played.stdout.startswith("played 72 hours: ") and played.stdout.count("\n") == 1

    lines, findings = _monitor(home, "day-2")
    assert [line.split()[0] for line in lines[:3]] == [
        "fetch-window",
        "drift-monitor",
        "record-alerts",
    ]
    assert any(line.startswith("window day-2: data drift: ") for line in lines)
    served = findings["served"]
    assert served["model"] == f"{SEPSIS}@1" and served["rows"] > 0
    assert served["differ"] == 0, served["first"]
    assert f"  served risks: all {served['rows']} are {SEPSIS}@1's own scores of the rows" in lines
    assert not [a for a in findings["alerts"] if a["kind"] == "served_scores"]


def test_the_real_server_answers_the_play_and_the_monitor_checks_every_served_risk(
    sepsis_home: Path, tmp_path: Path
) -> None:
    home = Path(shutil.copytree(sepsis_home, tmp_path / "home"))
    server = Server(home, f"{SEPSIS}@1", tmp_path / "journal").start()
    try:
        played = samdops(
            home,
            *("simulate", "hospital", "--scenario", "no_drift", "--days", "2", "--seed", "9"),
            *("--beds", "15", "--live", server.url, "--state", str(home)),
        )
    finally:
        server.stop()  # seals and uploads the journal
    assert played.returncode == 0, played.stderr
    lines, findings = _monitor(home, "day-1")
    assert any(line.startswith("window day-1: data drift: ") for line in lines)
    served = findings["served"]
    assert served["rows"] > 0 and served["differ"] == 0, served["first"]
