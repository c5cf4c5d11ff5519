"""The closed loop, end to end (issue #17): train, sign and release sepsis-risk@1; serve it;
the simulated ICU plays 7 days against the server with lactate charted in mg/dL from day 4;
the monitoring pipeline, reading the prediction log and the label feed, alarms on Lactate; the
alert is an audit entry and a SIEM event; retraining under the PCCP gives candidate @2; it is
signed and released; the server now answers with @2; ``samdops audit verify`` passes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from kfp import local

from samdops.cluster.kube import local_execution
from samdops.config import load_config, packaged_config_path
from samdops.digest import sha256_file
from samdops.governance.lifecycle import State
from samdops.governance.service import GovernedRegistry
from samdops.hospital import get_scenario, simulate_hospital
from samdops.monitoring.audit_sink import ALERT_KIND
from samdops.sepsis.reference import COLUMNS
from samdops.serving.records import read_prediction_log
from samdops.steps.inprocess import run_training_in_process
from tests.cli_helpers import launch_as, samdops, signed_in
from tests.conftest import REPO
from tests.integration.test_pccp_cycle import PW, _approve, release_under_plan
from tests.serving_helpers import Server

pytestmark = pytest.mark.slow

NAME = "sepsis-risk"
REFERENCE = REPO / "data" / "sepsis-reference.parquet"
PLAN_FILE = packaged_config_path("sepsis").parent / "sepsis-pccp.yaml"
DAYS, ONSET_DAY, BEDS, SEED = 7, 4, 40, 62


def _alerts(home: Path) -> list[dict[str, Any]]:
    return [
        r.event.to_dict()
        for r in GovernedRegistry(home, sinks=[]).audit.entries()
        if dict(r.event.details).get("kind") == ALERT_KIND
    ]


def _wait_for(check: Any, what: str, seconds: float = 90) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"{what} within {seconds:.0f} s")


def test_the_served_model_is_monitored_retrained_released_and_served_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(packaged_config_path("sepsis"))
    home = tmp_path / "home"
    siem = tmp_path / "siem.ocsf.jsonl"
    monkeypatch.setenv("SAMDOPS_SIEM", f"ocsf+file://{siem}")
    # 1. train, sign and release sepsis-risk@1 (its PCCP registered and approved too)
    run_training_in_process(
        config,
        data=REFERENCE,
        data_sha256=None,
        state=home,
        workdir=tmp_path / "w1",
        launcher=signed_in("eve"),
    )
    release_under_plan(home, f"{NAME}@1", PLAN_FILE)
    # 2. serve it, following the name's newest release
    server = Server(home, NAME, tmp_path / "journal").start()
    try:
        # 3. the hospital plays 7 days against the server, lactate in mg/dL from day 4
        played = samdops(
            home,
            *("simulate", "hospital", "--live", server.url, "--scenario", "lactate_mgdl"),
            *("--days", str(DAYS), "--seed", str(SEED), "--beds", str(BEDS)),
            *("--onset-day", str(ONSET_DAY), "--state", str(home)),
        )
        assert played.returncode == 0, played.stderr
        print(played.stdout.strip())
        last_hour = f"-h{DAYS * 24 - 1:05d}-"
        _wait_for(
            lambda: any(
                last_hour in r["request_id"] for r in read_prediction_log(_state(home), NAME)
            ),
            "the last hour's predictions reached the prediction log",
        )
        # 4. the monitoring pipeline reads the prediction log and alarms on Lactate
        new = simulate_hospital(get_scenario("no_drift"), days=10, seed=2027, beds=100).frame
        new_data = tmp_path / "new.parquet"
        new.loc[:, list(COLUMNS)].reset_index(drop=True).to_parquet(new_data)
        local.init(
            runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root")
        )
        from samdops.pipelines.monitoring import monitoring_pipeline

        run = f"monitor-served-{ONSET_DAY}"
        launch_as(home, run)
        with local_execution():
            monitoring_pipeline(
                reference_path=str(REFERENCE),
                current_path=f"predictions://{NAME}",
                labels_path=f"labels://{NAME}",
                window=str(ONSET_DAY),
                model_ref=f"{NAME}@1",
                state=str(home),
                run=run,
                id_column="patient_id",
                time_column="Time",
                retrain_plan_id=NAME,
                retrain_config=config.to_json(),
                retrain_data_uri=str(new_data),
                retrain_data_sha256=sha256_file(new_data),
            )
        # 5. the alert is an audit entry and a SIEM event
        (alert,) = [a for a in _alerts(home) if a["details"]["severity"] == "critical"]
        assert alert["details"]["features"].startswith("Lactate")
        assert alert["details"]["model"] == f"{NAME}@1"
        siem_events = [json.loads(line) for line in siem.read_text().splitlines()]
        assert any("Lactate" in json.dumps(e) for e in siem_events)
        # 6. retraining under the PCCP gave candidate @2; it is signed and released
        gov = GovernedRegistry(home, sinks=[])
        candidate = gov.get(f"{NAME}@2")
        assert candidate.state == State.VALIDATED
        assert candidate.record.document["pccp"]["outcome"] == "candidate"
        _approve(gov, f"{NAME}@2")
        gov.transition(f"{NAME}@2", State.RELEASED, "max", PW["max"])
        # 7. the server now answers with @2
        row = _one_stay(home)
        answer = _wait_for(
            lambda: (
                (a := server.infer(row, "after-release")).json().get("model_version") == "2" and a
            ),
            "the server answered with version 2",
        )
        assert answer.json()["parameters"]["model"] == f"{NAME}@2"
    finally:
        server.stop()
    # 8. the audit log verifies
    verified = samdops(home, "audit", "verify")
    assert verified.returncode == 0, verified.stderr


def _state(home: Path) -> Any:
    return GovernedRegistry(home, sinks=[]).state


def _one_stay(home: Path) -> dict[str, list[Any]]:
    from samdops.monitoring.registered_model import load_registered_model
    from samdops.serving.door import request_columns

    monitored = load_registered_model(GovernedRegistry(home, sinks=[]), f"{NAME}@1")
    frame = simulate_hospital(get_scenario("no_drift"), days=1, seed=3, beds=2).frame
    stay = frame[frame["patient_id"] == frame["patient_id"].iloc[0]]
    columns = request_columns(monitored.config.contract)
    return {c: [None if v != v else v for v in stay[c].tolist()] for c in columns}
