"""The training pipeline end to end through kfp.local, driven by the real `samdops` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from samdops.audit.event import Action, EventKind, Outcome
from samdops.config import default_config_path, load_config
from samdops.digest import sha256_file
from samdops.governance.records import TEST_SET_KIND, Registry
from samdops.governance.service import PIPELINE_ACTOR, GovernedRegistry
from samdops.steps.inprocess import run_training_in_process
from tests.bad_inputs import BAD_INPUTS, BadInput
from tests.cli_helpers import samdops
from tests.conftest import PIMA_CSV, PIMA_SHA256

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Two runs of `samdops run train` on the same inputs, in one home."""
    home = tmp_path_factory.mktemp("home")
    outputs = []
    for _ in range(2):
        done = samdops(home, "run", "train")
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout)
    return home, outputs


def test_two_runs_give_the_same_model_bytes(trained: tuple[Path, list[str]]) -> None:
    home, _ = trained
    first, second = Registry(home).records()
    assert (first.id, second.id) == ("pima-diabetes-onset@1", "pima-diabetes-onset@2")
    assert first.model_sha256 == second.model_sha256
    assert first.document["artifacts"]["test"] == second.document["artifacts"]["test"]


def test_progress_and_summary_are_printed(trained: tuple[Path, list[str]]) -> None:
    _, outputs = trained
    out = outputs[0]
    for task in ("ingest", "validate", "train", "evaluate", "register"):
        assert f"  {task:<10} ok" in out
    record = Registry(trained[0]).get("pima-diabetes-onset@1")
    assert f"model sha256   {record.model_sha256} (xgboost)" in out
    assert "acceptance gate: PASSED" in out
    assert "auroc        0." in out and "(95% CI " in out
    assert "5-fold CV AUROC (xgboost): 0." in out
    assert "validation report " in out and "pipeline log " in out


def test_registered_record_carries_lineage_and_verifiable_artifacts(
    trained: tuple[Path, list[str]],
) -> None:
    home, _ = trained
    registry = Registry(home)
    record = registry.get("pima-diabetes-onset@1").document
    assert record["status"] == "registered" and record["gate"]["passed"] is True
    lineage = record["lineage"]
    assert lineage["source_data"]["sha256"] == PIMA_SHA256
    assert lineage["code"]["git_commit"] and len(lineage["code"]["git_commit"]) == 40
    assert lineage["code"]["lock_sha256"].startswith("sha256:")
    assert lineage["seeds"] == {"split": 20261128, "model": 42, "bootstrap": 7}
    assert lineage["pipeline_run"].startswith("train-")
    spec_digest = lineage["pipeline_spec"]["sha256"]
    run_spec = home / "runs" / lineage["pipeline_run"] / "pipeline.yaml"
    assert sha256_file(run_spec) == spec_digest  # the compiled spec this run executed
    assert registry.store.get_bytes(spec_digest) == run_spec.read_bytes()
    # the test set was registered before the model was
    assert lineage["test_set_registered_at"] < record["registered_at"]
    # every artifact is in the store under its digest, and verifies on read
    for name, artifact in record["artifacts"].items():
        data = registry.store.get_bytes(artifact["sha256"])
        assert data, name
    config = json.loads(registry.store.get_bytes(lineage["config"]["sha256"]))
    assert config["model"]["seed"] == 42 and config["contract"]["name"] == "pima-diabetes"
    evaluation = json.loads(registry.store.get_bytes(record["artifacts"]["evaluation"]["sha256"]))
    assert evaluation["model_sha256"] == record["model"]["sha256"]
    auroc = record["metrics"]["auroc"]
    assert 0.75 < auroc["ci_low"] < auroc["point"] < auroc["ci_high"] <= 1.0
    assert [g["name"] for g in evaluation["subgroups"]] == [
        "age_band=18-29",
        "age_band=30-39",
        "age_band=40+",
    ]
    assert [cv["folds"] for cv in record["cross_validation"]] == [5, 5]
    html = registry.store.get_bytes(record["artifacts"]["validation_report"]["sha256"])
    assert b"<html" in html[:2000].lower()


def _events(home: Path) -> list[Any]:
    return [r.event for r in GovernedRegistry(str(home)).audit.entries()]


def test_every_step_is_on_the_record_with_its_digests(trained: tuple[Path, list[str]]) -> None:
    """Issue #18: per step, its start and end with the digests it read and wrote, each read of
    patient data with digest, rows and purpose, and the test set's CREATE (AT-01)."""
    home, _ = trained
    record = Registry(home).get("pima-diabetes-onset@1").document
    run = record["lineage"]["pipeline_run"]
    digest = {k: v["sha256"] for k, v in record["artifacts"].items()}
    events = [e for e in _events(home) if e.source.ref == run]
    steps = [e for e in events if e.kind == EventKind.EXECUTION]
    assert [(e.action, str(e.target)) for e in steps] == [
        (action, f"step/{step}@{run}")
        for step in ("ingest", "validate", "train", "evaluate", "register")
        for action in (Action.STEP_START, Action.STEP_END)
    ]
    assert {e.actor.id for e in events if e.kind != EventKind.CHANGE} == {PIPELINE_ACTOR}
    assert all(e.outcome == Outcome.SUCCESS for e in steps)
    ends = {e.detail_map()["step"]: e.detail_map() for e in steps if e.action == Action.STEP_END}
    image = ends["ingest"]["image"]
    assert image.startswith("subprocess (no image; the component names ")  # kfp.local subprocess
    assert {d["image"] for d in ends.values()} == {image}
    io = {step: (json.loads(d["inputs"]), json.loads(d["outputs"])) for step, d in ends.items()}
    assert io["ingest"] == (
        {"source": PIMA_SHA256},
        {"dataset": digest["dataset"], "train": digest["train"], "test": digest["test"]},
    )
    assert io["validate"] == (
        {"train": digest["train"], "test": digest["test"]},
        {"report": digest["validation_report"]},
    )
    assert io["train"] == (
        {"train": digest["train"]},
        {"model": digest["model"], "comparator": digest["comparator"]},
    )
    assert io["evaluate"] == (
        {"model": digest["model"], "comparator": digest["comparator"], "test": digest["test"]},
        {"evaluation": digest["evaluation"]},
    )
    assert io["register"][0] == {
        "source": PIMA_SHA256,
        **{k: digest[k] for k in ("dataset", "train", "test", "model", "comparator")},
        "validation_report": digest["validation_report"],
        "evaluation": digest["evaluation"],
    }
    starts = {
        e.detail_map()["step"]: e.detail_map() for e in steps if e.action == Action.STEP_START
    }
    assert all(starts[s]["inputs"] == ends[s]["inputs"] for s in ends)
    reads = [
        (str(e.target), e.detail_map()["purpose"], e.detail_map()["rows"])
        for e in events
        if e.action == Action.READ
    ]
    name = "dataset/pima-diabetes-onset"
    source, dataset = f"{name}/source@{PIMA_SHA256}", f"{name}/dataset@{digest['dataset']}"
    train, test = f"{name}/train@{digest['train']}", f"{name}/test@{digest['test']}"
    assert reads == [
        (source, "ingest", "768"),
        (train, "validate", "614"),
        (test, "validate", "154"),
        (train, "train", "614"),
        (test, "evaluate", "154"),
        (dataset, "register", "768"),
        (train, "register", "614"),
        (test, "register", "154"),
    ]
    (created,) = [
        e
        for e in _events(home)
        if e.action == Action.CREATE and e.detail_map().get("kind") == TEST_SET_KIND
    ]  # the second run used the same test set: its registration stands, no second event
    assert str(created.target) == f"test-set@{digest['test']}"
    assert created.detail_map()["rows"] == "154"
    log = GovernedRegistry(str(home)).audit
    assert max(log.store.checkpoint_sizes()) == len(log)  # every event is signed


def test_kfp_ui_outputs_are_written(trained: tuple[Path, list[str]]) -> None:
    home, _ = trained
    run_dir = next((home / "runs").iterdir())
    (pipeline_dir,) = list((run_dir / "pipeline-root").iterdir())
    evaluate_out = json.loads((pipeline_dir / "evaluate" / "executor_output.json").read_text())
    metrics = evaluate_out["artifacts"]["metrics"]["artifacts"][0]["metadata"]
    assert {"auroc", "auprc", "brier", "ece", "auroc_ci_low"} <= set(metrics)
    curves = evaluate_out["artifacts"]["curves"]["artifacts"][0]["metadata"]
    assert "confidenceMetrics" in curves and "confusionMatrix" in curves
    summary = (pipeline_dir / "register" / "summary").read_text()
    assert summary.startswith("# pima-diabetes-onset@") and "| auroc |" in summary
    assert (pipeline_dir / "validate" / "report").stat().st_size > 10_000


def test_in_process_run_registers_the_same_model(
    trained: tuple[Path, list[str]], tmp_path: Path
) -> None:
    config = load_config(default_config_path())
    record = run_training_in_process(
        config, data=PIMA_CSV, data_sha256=PIMA_SHA256, state=tmp_path / "h", workdir=tmp_path / "w"
    )
    assert record.model_sha256 == Registry(trained[0]).get("pima-diabetes-onset@1").model_sha256


@pytest.mark.parametrize("case", BAD_INPUTS, ids=lambda c: c.id)
def test_bad_input_gives_one_line_and_registers_nothing(case: BadInput, tmp_path: Path) -> None:
    data = tmp_path / f"{case.id}.csv"
    data.write_bytes(case.content())
    done = samdops(tmp_path / "home", "run", "train", "--data", str(data))
    assert done.returncode == 2
    assert done.stderr == f"samdops: error: {case.error.format(path=data)}\n"
    assert Registry(tmp_path / "home").records() == []
    # a step that refused the data ends on the record as a failure, with the error's class
    runs = tmp_path / "home" / "runs"
    found = sorted(runs.glob("*/errors.jsonl"))
    assert len(found) == (1 if runs.exists() else 0)  # refused before a run: no step ran
    for errors_file in found:
        failed = json.loads(errors_file.read_text().splitlines()[0])
        (end,) = [e for e in _events(tmp_path / "home") if e.action == Action.STEP_END]
        assert (
            str(end.target)
            == f"step/{failed['step'].removesuffix('_step')}@{errors_file.parent.name}"
        )
        assert end.outcome == Outcome.FAILURE
        assert end.detail_map()["error_class"] == failed["type"]
        assert json.loads(end.detail_map()["outputs"]) == {}


def test_dataset_with_another_digest_is_refused(tmp_path: Path) -> None:
    wanted = "sha256:" + "1" * 64
    done = samdops(
        tmp_path / "home", "run", "train", "--data", str(PIMA_CSV), "--data-sha256", wanted
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"samdops: error: dataset {PIMA_CSV} has digest {PIMA_SHA256}, expected {wanted}; "
        "the file changed or the wrong file was given\n"
    )
    assert Registry(tmp_path / "home").records() == []


def test_missed_criterion_registers_gate_failed_and_exits_1(tmp_path: Path) -> None:
    source = default_config_path()
    raw = yaml.safe_load(source.read_text())
    raw["contract"] = str(source.parent / raw["contract"])
    raw["data"]["path"] = str(PIMA_CSV)
    raw["evaluation"]["acceptance"] = [{"metric": "auroc", "statistic": "ci_low", "min": 0.99}]
    config = tmp_path / "strict.yaml"
    config.write_text(yaml.safe_dump(raw))
    done = samdops(tmp_path / "home", "run", "train", "--config", str(config))
    assert done.returncode == 1, done.stderr
    (record,) = Registry(tmp_path / "home").records()
    assert record.status == "gate_failed"
    value = record.document["gate"]["criteria"][0]["value"]
    assert done.stderr == f"samdops: gate failed: auroc ci_low >= 0.99 (overall: {value})\n"
    assert "acceptance gate: FAILED" in done.stdout
    assert sha256_file(record.document["artifacts"]["model"]["uri"].removeprefix("file://")) == (
        record.model_sha256
    )


def test_registry_cli_lists_and_shows(trained: tuple[Path, list[str]]) -> None:
    home, _ = trained
    listing = json.loads(samdops(home, "registry", "list", "--json").stdout)
    assert [r["id"] for r in listing] == ["pima-diabetes-onset@1", "pima-diabetes-onset@2"]
    assert listing[0]["state"] == "validated" and listing[0]["model_sha256"].startswith("sha256:")
    shown = json.loads(samdops(home, "registry", "show", "latest", "--json").stdout)
    assert shown["id"] == "pima-diabetes-onset@2"
    missing = samdops(home, "registry", "show", "nope")
    assert missing.returncode == 2
    assert missing.stderr.startswith("samdops: error: no model named 'nope' in the registry")


def test_with_caching_on_the_same_parameters_register_a_new_version_every_time(
    tmp_path: Path,
) -> None:
    """The same parameters twice (the same run name included) with kfp.local's caching asked
    for: register is compiled with caching off (tests/unit/test_caching.py), so the second run
    registers version 2 and never replays version 1's result."""
    from kfp import local

    from samdops.cluster.kube import local_execution
    from samdops.pipelines.training import training_pipeline

    home = tmp_path / "home"
    config = load_config(default_config_path())
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(tmp_path / "root"),
        enable_caching=True,
    )
    params = {
        "config": config.to_json(),
        "data_uri": str(PIMA_CSV),
        "data_sha256": PIMA_SHA256,
        "state": str(home),
        "run": "same-run",
    }
    for _ in range(2):
        with local_execution():
            training_pipeline(**params)
    records = Registry(home).records()
    assert [r.id for r in records] == ["pima-diabetes-onset@1", "pima-diabetes-onset@2"]
    assert records[0].document["registered_at"] <= records[1].document["registered_at"]
