"""`samdops run monitor --retrain-plan` retrains under the config the monitored model was
trained under, unless --retrain-config names another."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from samdops.governance.service import GovernedRegistry
from tests.cli_helpers import cli_in_process
from tests.serving_helpers import SEPSIS, register_sepsis


class Stop(Exception):
    pass


@pytest.mark.parametrize(
    ("given", "expected"),
    [((), "sepsis-risk"), (("--retrain-config", "pima"), "pima-diabetes-onset")],
)
def test_the_retraining_config_defaults_to_the_monitored_model_s(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    given: tuple[str, ...],
    expected: str,
) -> None:
    home = tmp_path / "home"
    register_sepsis(GovernedRegistry(home, sinks=[]))
    seen: dict[str, Any] = {}

    def run_monitoring(**kwargs: Any) -> Any:
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr("samdops.launch.local_run.run_monitoring", run_monitoring)
    with pytest.raises(Stop):
        cli_in_process(
            capsys,
            monkeypatch,
            "",
            *("run", "monitor", "--reference", "r.parquet", "--current", "c.parquet"),
            *("--model", f"{SEPSIS}@1", "--retrain-plan", SEPSIS, "--retrain-data", "n.parquet"),
            *("--state", str(home), *given),
        )
    assert seen["retrain_config"].name == expected
