"""Run the training pipeline through kfp.local (SubprocessRunner), the embedded default.

kfp.local prints every task's log on stdout; here that stream goes to a log file under the run's
directory, and the terminal gets one progress line per task. A step that fails with a samdops
error writes it to ``$SAMDOPS_ERROR_FILE``; the error is raised again here, with its class, so
the CLI prints the same one line the step printed.
"""

from __future__ import annotations

import contextlib
import getpass
import io
import json
import re
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from samdops import errors, settings
from samdops.atomic import atomic_write_bytes
from samdops.clock import utc_timestamp
from samdops.cluster.kube import local_execution
from samdops.config import TrainingConfig
from samdops.digest import parse_digest
from samdops.governance.records import LocalRegistry, RegistryRecord
from samdops.launch.compiler import compile_pipeline
from samdops.settings import ACTOR_ENV, ERROR_FILE_ENV

Progress = Callable[[str], None]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TASK_START = re.compile(r"Executing task '?([\w-]+)'?")
_TASK_END = re.compile(r"Task '?([\w-]+)'? finished with status (\w+)")


@dataclass(frozen=True)
class LocalRunResult:
    """Where a local run went and what it registered."""

    run: str
    run_dir: Path
    log_path: Path
    record: RegistryRecord
    seconds: float


class _ProgressStream(io.TextIOBase):
    """A text stream that copies everything to a log file and reports task starts and ends."""

    def __init__(self, log: io.TextIOBase, progress: Progress) -> None:
        self._log = log
        self._progress = progress
        self._terminal = sys.stdout  # progress goes to the stream in force before redirection
        self._pending = ""
        self._started: dict[str, float] = {}

    def write(self, text: str) -> int:
        self._log.write(text)
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._observe(_ANSI.sub("", line))
        return len(text)

    def flush(self) -> None:
        self._log.flush()

    def _observe(self, line: str) -> None:
        if "Pipeline" in line:
            return
        if match := _TASK_START.search(line):
            self._started[match.group(1)] = time.monotonic()
        elif match := _TASK_END.search(line):
            task, status = match.groups()
            took = time.monotonic() - self._started.get(task, time.monotonic())
            mark = "ok" if status == "SUCCESS" else status
            with contextlib.redirect_stdout(self._terminal):
                self._progress(f"  {task:<10} {mark:<8} {took:5.1f} s")


def new_run_name(prefix: str = "train") -> str:
    """A run name from the UTC time, e.g. ``train-20261128T134802123Z``."""
    return f"{prefix}-{utc_timestamp(compact=True)}"


def _raise_step_error(error_file: Path) -> None:
    first = json.loads(error_file.read_text(encoding="utf-8").splitlines()[0])
    if first.get("type") in ("GateFailed", "PccpError") and first.get("step") == "register_step":
        return  # the model is registered (gate_failed, rejected, outside-plan); caller reports
    cls = getattr(errors, first.get("type", ""), errors.PipelineError)
    if not (isinstance(cls, type) and issubclass(cls, errors.SamdopsError)):
        cls = errors.PipelineError
    raise cls(first["error"])


def run_training(
    config: TrainingConfig,
    *,
    data: Path,
    data_sha256: str | None,
    home: Path,
    progress: Progress = print,
    run: str | None = None,
    store: str = "",
    plan: str = "",
) -> LocalRunResult:
    """Run the training pipeline on ``data`` locally; return the registered record.

    Raises the step's own error (e.g. :class:`~samdops.errors.DataContractError`) when a step
    fails. A model that missed an acceptance criterion is registered with status
    ``gate_failed`` and returned like any other.
    """
    from kfp import local

    from samdops.pipelines.retraining import retraining_pipeline
    from samdops.pipelines.training import training_pipeline

    run = run or new_run_name("retrain" if plan else "train")
    expected = parse_digest(data_sha256) if data_sha256 else ""
    if not data.is_file():
        raise errors.InputFormatError(f"input file {data} does not exist")
    runs = home / "runs"
    run_dir = runs / run
    run_dir.mkdir(parents=True, exist_ok=False)
    log_path = run_dir / "kfp-local.log"
    error_file = run_dir / "errors.jsonl"
    started = time.monotonic()
    with (
        open(log_path, "w", encoding="utf-8") as log,
        settings.setting(ERROR_FILE_ENV, str(error_file)),
        settings.setting(ACTOR_ENV, settings.actor() or f"os:{getpass.getuser()}"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # kfp warns that the image name lacks "python"
        stream = _ProgressStream(log, progress)
        with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
            local.init(
                runner=local.SubprocessRunner(use_venv=False),
                pipeline_root=str(run_dir / "pipeline-root"),
                raise_on_error=False,
            )
            spec = compile_pipeline("samdops-retraining" if plan else "samdops-training")
            spec_digest = LocalRegistry(home).store.put_bytes(spec)  # kept beside the records
            atomic_write_bytes(run_dir / "pipeline.yaml", spec)
            params = {
                "pipeline_spec_sha256": spec_digest,
                "config": config.to_json(),
                "data_uri": str(data.resolve()),
                "data_sha256": expected,
                "home": str(home),
                "run": run,
                "store": store,
            }
            with local_execution():
                if plan:
                    retraining_pipeline(plan_id=plan, **params)
                else:
                    training_pipeline(**params)
    seconds = time.monotonic() - started
    if error_file.exists():
        _raise_step_error(error_file)
    registry = LocalRegistry(home)
    for record in reversed(registry.records(config.name)):
        if record.document["lineage"]["pipeline_run"] == run:
            return LocalRunResult(run, run_dir, log_path, record, seconds)
    raise errors.PipelineError(f"the pipeline run registered nothing; its log is {log_path}")
