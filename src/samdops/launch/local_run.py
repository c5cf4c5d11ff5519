"""Run a pipeline through kfp.local: each step a subprocess (the embedded default) or a container.

kfp.local prints every task's log on stdout; here that stream goes to a log file under the run's
directory, and the terminal gets one progress line per task. A step that fails with a samdops
error writes it to ``$SAMDOPS_ERROR_FILE``; the error is raised again here, with its class, so
the CLI prints the same one line the step printed.

With ``runner="container"`` every step runs in its own container of the component image
(:mod:`samdops.launch.containers`), as in the cluster: the steps share nothing but the state
location, which must then be ``s3://``, Vault and the pipeline root. Input files are staged under
the pipeline root, as KFP's launcher downloads an input artifact into the pod.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samdops import errors, settings
from samdops.atomic import atomic_write_bytes
from samdops.clock import utc_timestamp
from samdops.cluster.kube import local_execution
from samdops.config import TrainingConfig
from samdops.digest import parse_digest
from samdops.governance.records import Registry, RegistryRecord
from samdops.inputs import regular_file
from samdops.launch.compiler import compile_pipeline
from samdops.settings import ERROR_FILE_ENV

if TYPE_CHECKING:
    from samdops.governance.launch import Launcher

Progress = Callable[[str], None]
RUNNERS = ("subprocess", "container")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TASK_START = re.compile(r"Executing task '?([\w-]+)'?")
_TASK_END = re.compile(r"Task '?([\w-]+)'? finished with status (\w+)")
_CONTAINER_START = re.compile(r"^\s*Found image '")


@dataclass(frozen=True)
class LocalRunResult:
    """Where a local run went and what it registered."""

    run: str
    location: str  # the state location the record went to
    run_dir: Path
    log_path: Path
    record: RegistryRecord
    seconds: float
    containers: int = 0  # step containers run (the container runner)


@dataclass(frozen=True)
class MonitoringRunResult:
    """Where a local monitoring run went and what it found."""

    run: str
    location: str
    run_dir: Path
    log_path: Path
    findings: dict[str, Any]
    report: Path
    seconds: float
    containers: int = 0


@dataclass
class _Run:
    """One local run: its directories, its runner, and what its log showed."""

    name: str
    location: str
    runner: str
    run_dir: Path
    pipeline_root: Path
    error_file: Path
    failed: list[str] = field(default_factory=list)
    containers: int = 0

    @property
    def log_path(self) -> Path:
        return self.run_dir / "kfp-local.log"

    def stage(self, path: Path) -> str:
        """Where a step reads the local file ``path``: the file itself for subprocess steps; a
        read-only copy under the (bind-mounted) pipeline root for containers."""
        regular_file(path, "input file", error=errors.InputFormatError)
        if self.runner != "container":
            return str(path.resolve())
        target = self.pipeline_root / "inputs" / path.name
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, target)
        target.chmod(0o444)
        return str(target)


class _ProgressStream(io.TextIOBase):
    """A text stream that copies everything to a log file and reports task starts and ends."""

    def __init__(self, log: io.TextIOBase, progress: Progress, run: _Run) -> None:
        self._log = log
        self._progress = progress
        self._run = run
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
        if _CONTAINER_START.search(line):
            self._run.containers += 1
        if "Pipeline" in line:
            return
        if match := _TASK_START.search(line):
            self._started[match.group(1)] = time.monotonic()
        elif match := _TASK_END.search(line):
            task, status = match.groups()
            took = time.monotonic() - self._started.get(task, time.monotonic())
            if status != "SUCCESS":
                self._run.failed.append(task)
            mark = "ok" if status == "SUCCESS" else status
            with contextlib.redirect_stdout(self._terminal):
                self._progress(f"  {task:<10} {mark:<8} {took:5.1f} s")


def new_run_name(prefix: str = "train") -> str:
    """A run name from the UTC time, e.g. ``train-20261128T134802123Z``."""
    return f"{prefix}-{utc_timestamp(compact=True)}"


def _new_run(home: Path, name: str, state: str, runner: str) -> _Run:
    if runner not in RUNNERS:
        raise errors.ConfigError(f"runner {runner!r} is not one of {', '.join(RUNNERS)}")
    location = settings.state_location(state or None, home)
    if runner == "container" and not location.startswith("s3://"):
        raise errors.ConfigError(
            "step containers share nothing but the state location, so it must be "
            "s3://BUCKET/PREFIX: pass --state or set SAMDOPS_STATE"
        )
    run_dir = home / "runs" / name
    run_dir.mkdir(parents=True, exist_ok=False)
    if runner == "container":
        from samdops.launch.containers import prepare_pipeline_root

        root = prepare_pipeline_root(run_dir / "pipeline-root")
        error_file = root / "errors.jsonl"  # the steps append to it from their containers
    else:
        root = run_dir / "pipeline-root"
        error_file = run_dir / "errors.jsonl"
    return _Run(name, location, runner, run_dir, root, error_file)


def _kfp_runner(run: _Run) -> tuple[Any, contextlib.AbstractContextManager[None]]:
    from kfp import local

    if run.runner == "subprocess":
        return local.SubprocessRunner(use_venv=False), contextlib.nullcontext()
    from samdops.cluster.images import component_image
    from samdops.launch.containers import (
        container_runner,
        reliable_containers,
        step_environment,
    )

    environment = step_environment(pipeline_root=run.pipeline_root)
    return container_runner(environment), reliable_containers(image=component_image())


@contextlib.contextmanager
def _executing(run: _Run, progress: Progress) -> Iterator[None]:
    """kfp.local initialised for ``run``, its output in the run's log; raises the first step's
    error afterwards, or names the failed task."""
    from kfp import local

    with (
        open(run.log_path, "w", encoding="utf-8") as log,
        settings.setting(ERROR_FILE_ENV, str(run.error_file)),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # kfp warns that the image name lacks "python"
        runner, guard = _kfp_runner(run)
        stream = _ProgressStream(log, progress, run)
        with guard, contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
            local.init(runner=runner, pipeline_root=str(run.pipeline_root), raise_on_error=False)
            with local_execution():
                yield
    if run.error_file.exists():
        _raise_step_error(run.error_file)
    elif run.failed:
        raise errors.PipelineError(
            f"task {run.failed[0]} failed without a samdops error; its log is {run.log_path}"
        )


def _raise_step_error(error_file: Path) -> None:
    first = json.loads(error_file.read_text(encoding="utf-8").splitlines()[0])
    if first.get("type") in ("GateFailed", "PccpError") and first.get("step") == "register_step":
        return  # the model is registered (gate_failed, rejected, outside-plan); caller reports
    cls = getattr(errors, first.get("type", ""), errors.PipelineError)
    if not (isinstance(cls, type) and issubclass(cls, errors.SamdopsError)):
        cls = errors.PipelineError
    raise cls(first["error"])


def _spec_digest(run: _Run, pipeline: str) -> str:
    """Compile ``pipeline``, keep its spec beside the records and in the run's directory."""
    spec = compile_pipeline(pipeline)
    atomic_write_bytes(run.run_dir / "pipeline.yaml", spec)
    return Registry(run.location).store.put_bytes(spec)


def _preflight(location: str, plan: str) -> None:
    """Check what the run will need before its first step, so that a failure writes nothing:
    the state location and its audit log answer, Vault signs (login, Transit key), the plan is
    in force."""
    from samdops.governance.service import GovernedRegistry
    from samdops.pccp.plans import plan_in_force

    governed = GovernedRegistry(location, sinks=[])
    len(governed.audit)  # reads the log: its store answers and the log is whole
    if settings.vault_address():
        _ = governed.audit_key.key_id  # logs in to Vault and reads the Transit key
    if plan:
        plan_in_force(governed, plan)
    # what a killed earlier run left is completed now (see GovernedRegistry.recover)
    GovernedRegistry(location).recover()


def _launcher(location: str, launcher: Launcher | None) -> Launcher:
    """``launcher``, else the OS account (refused once the state location has users)."""
    from samdops.governance.identity import UserDirectory
    from samdops.governance.launch import os_launcher

    return launcher or os_launcher(UserDirectory(location))


def _record_launch(run: _Run, launcher: Launcher, pipeline: str) -> None:
    """The audit event, before any step, that ``launcher`` started ``run`` (its trainer)."""
    from samdops.governance.launch import record_launch
    from samdops.governance.service import GovernedRegistry

    record_launch(GovernedRegistry(run.location).audit, run.name, launcher, pipeline=pipeline)


def run_training(
    config: TrainingConfig,
    *,
    data: Path,
    data_sha256: str | None,
    home: Path,
    progress: Progress = print,
    run: str | None = None,
    state: str = "",
    plan: str = "",
    runner: str = "subprocess",
    launcher: Launcher | None = None,
) -> LocalRunResult:
    """Run the training pipeline on ``data`` locally; return the registered record.

    ``home`` holds the run's directory (log, pipeline root); the records go to the state
    location ``state`` (default: ``$SAMDOPS_STATE``, else ``home``). With ``plan`` it is the
    retraining pipeline, decided under that PCCP. Raises the step's own error (e.g.
    :class:`~samdops.errors.DataContractError`) when a step fails. A model that missed an
    acceptance criterion is registered with status ``gate_failed`` and returned like any other.
    ``launcher`` is the authenticated person who starts the run, recorded in the audit log as
    its trainer (default: the OS account, while the state location has no users).
    """
    from samdops.pipelines.retraining import retraining_pipeline
    from samdops.pipelines.training import training_pipeline

    expected = parse_digest(data_sha256) if data_sha256 else ""
    regular_file(data, "input file", error=errors.InputFormatError)
    location = settings.state_location(state or None, home)
    _preflight(location, plan)
    who = _launcher(location, launcher)
    local_run = _new_run(home, run or new_run_name("retrain" if plan else "train"), state, runner)
    pipeline = "samdops-retraining" if plan else "samdops-training"
    _record_launch(local_run, who, pipeline)
    started = time.monotonic()
    with _executing(local_run, progress):
        params = {
            "pipeline_spec_sha256": _spec_digest(local_run, pipeline),
            "config": config.to_json(),
            "data_uri": local_run.stage(data),
            "data_sha256": expected,
            "state": local_run.location,
            "run": local_run.name,
        }
        if plan:
            retraining_pipeline(plan_id=plan, **params)
        else:
            training_pipeline(**params)
    seconds = time.monotonic() - started
    for record in reversed(Registry(local_run.location).records(config.name)):
        if record.document["lineage"]["pipeline_run"] == local_run.name:
            return LocalRunResult(
                local_run.name,
                local_run.location,
                local_run.run_dir,
                local_run.log_path,
                record,
                seconds,
                local_run.containers,
            )
    raise errors.PipelineError(
        f"the pipeline run registered nothing; its log is {local_run.log_path}"
    )


def run_monitoring(
    *,
    reference: str,
    current: str,
    labels: str = "",
    window: str = "",
    home: Path,
    state: str = "",
    progress: Progress = print,
    run: str | None = None,
    runner: str = "subprocess",
    retrain_config: TrainingConfig | None = None,
    retrain_data: Path | None = None,
    launcher: Launcher | None = None,
    **options: Any,
) -> MonitoringRunResult:
    """Run the monitoring pipeline on one window locally; return its findings.

    ``reference``, ``current`` and ``labels`` are local paths or ``s3://`` objects; ``{window}``
    in them is the window (empty: yesterday, UTC). ``options`` are the pipeline's other
    parameters (``model_ref``, ``id_column``, ..., ``retrain_plan_id``); with ``retrain_plan_id``
    a critical alert retrains on ``retrain_data`` under ``retrain_config``; ``launcher`` as for
    :func:`run_training`.
    """
    from samdops.pipelines.monitoring import monitoring_pipeline
    from samdops.steps.monitoring import WINDOW_PLACEHOLDER, resolve_window

    window = resolve_window(window)
    sources = [s.replace(WINDOW_PLACEHOLDER, window) for s in (reference, current, labels)]
    local_inputs = [Path(s) for s in sources if s and "://" not in s]
    if retrain_data is not None:
        local_inputs.append(retrain_data)
    for path in local_inputs:  # refused before the run's directory exists
        regular_file(path, "input file", error=errors.InputFormatError)
    who = _launcher(settings.state_location(state or None, home), launcher)
    local_run = _new_run(home, run or new_run_name("monitor"), state, runner)
    _record_launch(local_run, who, "samdops-monitoring")

    def source(location: str) -> str:
        return location if not location or "://" in location else local_run.stage(Path(location))

    params: dict[str, Any] = {
        "reference_path": source(sources[0]),
        "current_path": source(sources[1]),
        "labels_path": source(sources[2]),
        "window": window,
        "state": local_run.location,
        "run": local_run.name,
        **options,
    }
    if retrain_config is not None:
        params["retrain_config"] = retrain_config.to_json()
    if retrain_data is not None:
        params["retrain_data_uri"] = local_run.stage(retrain_data)
    started = time.monotonic()
    with _executing(local_run, progress):
        params["pipeline_spec_sha256"] = _spec_digest(local_run, "samdops-monitoring")
        monitoring_pipeline(**params)
    seconds = time.monotonic() - started
    found = sorted(local_run.pipeline_root.glob("*/drift-monitor/findings"))
    if not found:
        raise errors.PipelineError(
            f"the monitoring run wrote no findings; its log is {local_run.log_path}"
        )
    return MonitoringRunResult(
        local_run.name,
        local_run.location,
        local_run.run_dir,
        local_run.log_path,
        json.loads(found[-1].read_text(encoding="utf-8")),
        found[-1].parent / "report",
        seconds,
        local_run.containers,
    )
