"""Retraining under a PCCP through kfp.local with the state on S3 (issues 14 and 15).

The PCCP gate must read the plan and the released model from the state location, not from the
host's disk.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from samdops.config import default_config_path, load_config
from samdops.launch.local_run import run_training
from samdops.store.state import open_state
from tests.cli_helpers import signed_in, train_pima
from tests.integration.conftest import S3State
from tests.integration.test_pccp_cycle import NAME, PLAN_FILE, release_under_plan
from tests.pima_like import pima_like

pytestmark = pytest.mark.slow


def test_retraining_gate_reads_the_released_model_from_s3(
    s3_state: S3State,
    tmp_path: Path,
) -> None:
    data = tmp_path / "new.csv"
    pima_like(101).to_csv(data, index=False)
    train_pima(s3_state.location, tmp_path / "w1")
    release_under_plan(s3_state.location, f"{NAME}@1", PLAN_FILE)
    result = run_training(
        load_config(default_config_path()),
        data=data,
        data_sha256=None,
        home=s3_state.home,
        progress=lambda _line: None,
        plan=NAME,
        launcher=signed_in("eve"),
    )
    change = result.record.document["pccp"]
    assert (change["outcome"], change["modification"]) == ("candidate", "retrain-new-data")
    store_uri = f"{s3_state.location}/store/sha256/"
    assert change["change_record"]["uri"].startswith(store_uri)
    assert open_state().artifacts.get_bytes(change["change_record"]["sha256"])
    assert result.record.document["artifacts"]["model"]["uri"].startswith(store_uri)
    assert [p.name for p in s3_state.home.iterdir()] == ["runs"]
