"""The local launcher's choices before any step runs: the runner, the state, staged inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from samdops.config import default_config_path, load_config
from samdops.errors import ConfigError, InputFormatError
from samdops.launch.local_run import _new_run, _ProgressStream, run_training
from tests.conftest import PIMA_CSV


def test_containers_need_a_state_they_can_share(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        run_training(
            load_config(default_config_path()),
            data=PIMA_CSV,
            data_sha256=None,
            home=tmp_path,
            state=str(tmp_path / "state"),
            runner="container",
        )
    assert str(info.value) == (
        "step containers share nothing but the state location, so it must be "
        "s3://BUCKET/PREFIX: pass --state or set SAMDOPS_STATE"
    )
    assert not (tmp_path / "runs").exists()  # refused before anything was written


def test_an_unknown_runner_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^runner 'docker' is not one of subprocess, container$"):
        _new_run(tmp_path, "r", "", "docker")


def test_subprocess_steps_read_inputs_in_place(tmp_path: Path) -> None:
    run = _new_run(tmp_path, "r", "", "subprocess")
    assert run.stage(PIMA_CSV) == str(PIMA_CSV.resolve())
    with pytest.raises(InputFormatError, match=r"^input file .*missing.csv does not exist$"):
        run.stage(tmp_path / "missing.csv")


def test_a_task_that_failed_without_an_error_record_is_noticed(tmp_path: Path) -> None:
    run = _new_run(tmp_path, "r", "", "subprocess")
    lines: list[str] = []
    with open(tmp_path / "log", "w", encoding="utf-8") as log:
        stream = _ProgressStream(log, lines.append, run)  # type: ignore[arg-type]
        stream.write("12:00:00 - INFO - Executing task \x1b[96m'validate'\x1b[0m\n")
        stream.write("    Found image 'localhost/samdops-component@sha256:ab'\n")
        stream.write("12:00:05 - ERROR - Task \x1b[96m'validate'\x1b[0m finished with status ")
        stream.write("\x1b[91mFAILURE\x1b[0m\n")
    assert run.failed == ["validate"] and run.containers == 1
    assert lines[0].startswith("  validate   FAILURE")
