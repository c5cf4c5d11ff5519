"""A kfp.local run of the monitoring pipeline on the released sepsis model: a scale error in the
lactate feed is a critical alert, which retrains the model on new data through the gate of the
sepsis PCCP. The retrained model is a candidate awaiting signatures; nothing is released."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kfp import local

from samdops.cluster.kube import local_execution
from samdops.config import TrainingConfig, load_config, packaged_config_path
from samdops.digest import sha256_file
from samdops.governance.lifecycle import State
from samdops.governance.service import GovernedRegistry
from samdops.hospital import get_scenario, simulate_hospital
from samdops.hospital.columns import LABEL
from samdops.monitoring.audit_sink import ALERT_KIND
from samdops.sepsis.reference import COLUMNS
from tests.cli_helpers import launch_as, samdops, signed_in
from tests.conftest import REPO
from tests.integration.test_pccp_cycle import release_under_plan

pytestmark = pytest.mark.slow

NAME = "sepsis-risk"
REFERENCE = REPO / "data" / "sepsis-reference.parquet"
PLAN_FILE = packaged_config_path("sepsis").parent / "sepsis-pccp.yaml"


@pytest.fixture(scope="module")
def config() -> TrainingConfig:
    return load_config(packaged_config_path("sepsis"))


@pytest.fixture(scope="module")
def released_home(
    tmp_path_factory: pytest.TempPathFactory, config: TrainingConfig
) -> Iterator[Path]:
    """sepsis-risk@1 trained, reviewed, approved and released; its PCCP registered and signed."""
    from samdops.steps.inprocess import run_training_in_process

    home = tmp_path_factory.mktemp("sepsis-pccp") / "home"
    run_training_in_process(
        config,
        data=REFERENCE,
        data_sha256=None,
        state=home,
        workdir=home.parent / "w1",
        launcher=signed_in("eve"),
    )
    release_under_plan(home, f"{NAME}@1", PLAN_FILE)
    yield home


def _alerts(home: Path) -> list[dict[str, Any]]:
    gov = GovernedRegistry(home, sinks=[])
    return [
        r.event.to_dict()
        for r in gov.audit.entries()
        if dict(r.event.details).get("kind") == ALERT_KIND
    ]


def test_lactate_scale_error_retrains_the_sepsis_model_to_a_candidate_and_releases_nothing(
    released_home: Path, config: TrainingConfig, tmp_path: Path
) -> None:
    home = released_home
    features = [c for c in COLUMNS if c != LABEL]
    # One day of the ICU with lactate charted in mg/dL instead of mmol/L (about 9x larger).
    window = simulate_hospital(get_scenario("lactate_mgdl"), days=5, seed=62, beds=60).day(4)
    window.loc[:, features].to_parquet(tmp_path / "day_0004.parquet")
    # The new training data: the same ICU and columns as the reference, a later extract.
    new = simulate_hospital(get_scenario("no_drift"), days=10, seed=2027, beds=100).frame
    new_data = tmp_path / "new.parquet"
    new.loc[:, list(COLUMNS)].reset_index(drop=True).to_parquet(new_data)
    gov = GovernedRegistry(home, sinks=[])
    before = {m.record.id: m for m in gov.models()}
    released_before = before[f"{NAME}@1"]

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    from samdops.pipelines.monitoring import monitoring_pipeline

    started = time.monotonic()
    launch_as(home, "monitor-sepsis-0004")  # eve, signed in, starts the run
    with local_execution():
        monitoring_pipeline(
            reference_path=str(REFERENCE),
            current_path=str(tmp_path / "day_{window}.parquet"),
            window="0004",
            model_ref=f"{NAME}@1",
            state=str(home),
            run="monitor-sepsis-0004",
            id_column="patient_id",
            time_column="Time",
            retrain_plan_id=NAME,
            retrain_config=config.to_json(),
            retrain_data_uri=str(new_data),
            retrain_data_sha256=sha256_file(new_data),
        )
    print(f"sepsis monitoring + retraining through kfp.local: {time.monotonic() - started:.1f} s")

    critical = [a for a in _alerts(home) if a["details"]["severity"] == "critical"]
    (alert,) = critical
    assert alert["details"]["features"].startswith("Lactate")
    assert alert["details"]["evidence"].startswith("Lactate about 9x larger than reference")
    assert alert["details"]["model"] == f"{NAME}@1"
    assert alert["details"]["retraining"] == f"requested: run monitor-sepsis-0004, PCCP {NAME}"

    gov = GovernedRegistry(home, sinks=[])
    after = {m.record.id: m for m in gov.models()}
    (candidate,) = [m for i, m in after.items() if i not in before]
    assert candidate.record.id == f"{NAME}@2"
    document = candidate.record.document
    assert document["lineage"]["pipeline_run"] == "monitor-sepsis-0004"
    change = document["pccp"]
    assert (change["outcome"], change["modification"]) == ("candidate", "retrain-new-data")
    assert {c["name"]: c["passed"] for c in change["checks"]} == {
        "scope": True,
        "data": True,
        "test-independence": True,
        "acceptance": True,
        "non-inferiority": True,
    }
    assert candidate.state == State.VALIDATED  # awaits review and approval signatures
    assert candidate.record.model_sha256 != released_before.record.model_sha256

    released = after[f"{NAME}@1"]  # unchanged: same record, state and signatures
    assert released.state == State.RELEASED
    assert released.history.record_sha256 == released_before.history.record_sha256
    assert released.history.signatures == released_before.history.signatures
    assert [i for i, m in after.items() if m.state == State.RELEASED] == [f"{NAME}@1"]

    (summary,) = (tmp_path / "root").rglob("register-candidate/summary")
    assert f"# Model card: {NAME}@2" in summary.read_text()  # the sepsis card, not Pima's
    assert "Early warning of sepsis" in summary.read_text()
    verified = samdops(home, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
