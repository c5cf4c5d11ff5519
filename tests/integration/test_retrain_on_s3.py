"""Retraining under a PCCP through kfp.local with the artifact store on S3 (issue 14).

The PCCP gate must read the plan file and the released model from the run's artifact store,
not from the home's local store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from samdops.config import default_config_path, load_config
from samdops.launch.local_run import run_training
from samdops.secrets.env import env_var_name
from samdops.store import S3_SECRET_PATH, open_store
from tests.cli_helpers import acting_as, train_pima
from tests.integration.test_pccp_cycle import NAME, PLAN_FILE, release_under_plan
from tests.pima_like import pima_like

pytestmark = pytest.mark.slow


def test_retraining_gate_reads_the_released_model_from_s3(
    s3_server: Any, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VAULT_ADDR", raising=False)  # S3 credentials from the environment
    monkeypatch.delenv("SAMDOPS_S3_SECRET_PATH", raising=False)
    monkeypatch.setenv("SAMDOPS_S3_ENDPOINT", s3_server.endpoint)
    monkeypatch.setenv(env_var_name(S3_SECRET_PATH, "access_key"), s3_server.access_key)
    monkeypatch.setenv(env_var_name(S3_SECRET_PATH, "secret_key"), s3_server.secret_key)
    location = f"s3://{s3_bucket}/models"
    home = tmp_path / "home"
    data = tmp_path / "new.csv"
    pima_like(101).to_csv(data, index=False)
    with acting_as("eve"):
        train_pima(home, tmp_path / "w1", store=location)
        release_under_plan(home, f"{NAME}@1", PLAN_FILE, store=open_store(location))
        result = run_training(
            load_config(default_config_path()),
            data=data,
            data_sha256=None,
            home=home,
            progress=lambda _line: None,
            store=location,
            plan=NAME,
        )
    change = result.record.document["pccp"]
    assert (change["outcome"], change["modification"]) == ("candidate", "retrain-new-data")
    assert change["change_record"]["uri"].startswith(f"s3://{s3_bucket}/models/sha256/")
    assert open_store(location).get_bytes(change["change_record"]["sha256"])
    assert result.record.document["artifacts"]["model"]["uri"].startswith(f"s3://{s3_bucket}/")
