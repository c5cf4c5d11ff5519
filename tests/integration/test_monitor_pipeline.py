"""kfp.local runs of the monitoring pipeline: alerts become audit entries and SIEM events, and a
critical alert starts retraining through the PCCP gate, which never releases."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from kfp import local

from samdops.audit.event import Action
from samdops.cluster.kube import local_execution
from samdops.config import default_config_path, load_config
from samdops.digest import sha256_file
from samdops.governance.lifecycle import State
from samdops.governance.service import GovernedRegistry
from samdops.hospital import get_scenario, simulate_hospital
from samdops.hospital.columns import CATEGORICAL_SPEC, LABEL, LABEL_ARRIVAL
from samdops.monitoring.audit_sink import ALERT_KIND, DRIFT_MONITOR_ACTOR
from tests.cli_helpers import launch_as, samdops, signed_in
from tests.conftest import PIMA_CSV
from tests.integration.test_pccp_cycle import (
    NAME,
    PLAN_FILE,
    release_under_plan,
)
from tests.pima_like import pima_like

pytestmark = pytest.mark.slow


def _alerts(home: Path) -> list[dict[str, Any]]:
    gov = GovernedRegistry(home, sinks=[])
    return [
        {**r.event.to_dict(), "seq": r.seq}
        for r in gov.audit.entries()
        if dict(r.event.details).get("kind") == ALERT_KIND
    ]


def _write_lactate_window(tmp_path: Path) -> None:
    """``reference.parquet`` (no drift) and ``day_0004.csv``, whose lactate is in mg/dL."""
    reference = simulate_hospital(get_scenario("no_drift"), days=3, seed=21, beds=60).frame
    window = simulate_hospital(get_scenario("lactate_mgdl"), days=5, seed=22, beds=60).day(4)
    drop = [LABEL, LABEL_ARRIVAL]
    reference.drop(columns=drop).to_parquet(tmp_path / "reference.parquet")
    window.drop(columns=drop).to_csv(tmp_path / "day_0004.csv", index=False)


def _run_dir(root: Path) -> Path:
    (run_dir,) = root.iterdir()
    return run_dir


def test_monitoring_pipeline_records_the_alert_in_the_audit_log_and_the_siem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_lactate_window(tmp_path)
    home = tmp_path / "home"
    siem = tmp_path / "siem.ocsf.jsonl"
    monkeypatch.setenv("SAMDOPS_SIEM", f"ocsf+file://{siem}")

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    from samdops.pipelines.monitoring import monitoring_pipeline

    with local_execution():
        monitoring_pipeline(
            reference_path=str(tmp_path / "reference.parquet"),
            current_path=str(tmp_path / "day_{window}.csv"),
            window="0004",
            state=str(home),
            run="monitor-0004",
        )

    (alert,) = _alerts(home)
    details = alert["details"]
    assert alert["actor"] == {"id": DRIFT_MONITOR_ACTOR, "auth": "service_account_token"}
    assert alert["source"] == {"kind": "pipeline_run", "ref": "monitor-0004"}
    assert details["severity"] == "critical" and details["features"].startswith("Lactate")
    assert details["evidence"].startswith("Lactate about 9x larger than reference")
    assert details["retraining"] == "not requested"
    run_dir = _run_dir(tmp_path / "root")
    findings = run_dir / "drift-monitor" / "findings"
    assert alert["new_hash"] == details["findings_sha256"]
    assert details["findings_sha256"] == sha256_file(findings)
    events = [json.loads(line) for line in siem.read_text().splitlines()]
    siem_alert = next(e for e in events if e.get("metadata", {}).get("uid") == alert["id"])
    assert siem_alert["severity_id"] == 4  # high: a critical alert
    assert siem_alert["unmapped"]["details"]["severity"] == "critical"
    verified = samdops(home, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "audit log OK" in verified.stdout
    report = (run_dir / "drift-monitor" / "report").read_text()
    assert "<svg" in report and "Lactate" in report
    summary = (run_dir / "drift-monitor" / "summary").read_text()
    assert summary.startswith("# Drift monitor: window 0004") and "**DRIFT**" in summary
    # Issue 18: each step's reads, by the monitor, with the copies' digests (no labels: no read)
    copies = {role: run_dir / "fetch-window" / role for role in ("reference", "current")}
    expected = [
        (role, f"dataset/monitor/{role}", sha256_file(path), str(len(pd.read_parquet(path))))
        for role, path in copies.items()
    ]
    reads = [
        r.event
        for r in GovernedRegistry(home, sinks=[]).audit.entries()
        if r.event.action == Action.READ
    ]
    assert [
        (e.detail_map()["role"], e.target.id, e.target.version, e.detail_map()["rows"])
        for e in reads
    ] == expected * 2  # fetch-window read the sources, drift-monitor the copies
    for event in reads:
        assert (event.actor.id, event.source.ref) == (DRIFT_MONITOR_ACTOR, "monitor-0004")
        assert event.detail_map()["purpose"] == "monitor"


@pytest.fixture(scope="module")
def released_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Pima v1 released; its PCCP registered, reviewed and approved (as in the PCCP tests)."""
    from tests.cli_helpers import train_pima

    home = tmp_path_factory.mktemp("monitor-pccp") / "home"
    train_pima(home, home.parent / "w1")
    release_under_plan(home, f"{NAME}@1", PLAN_FILE)
    yield home


def test_critical_alert_retrains_through_the_gate_and_releases_nothing(
    released_home: Path, tmp_path: Path
) -> None:
    home = released_home
    current = pd.read_csv(PIMA_CSV)
    current["Glucose"] = current["Glucose"] / 18.0  # reported in mmol/L: a scale error
    current.to_csv(tmp_path / "window.csv", index=False)
    new_data = tmp_path / "new.csv"
    pima_like(101).to_csv(new_data, index=False)
    before = GovernedRegistry(home, sinks=[]).models()
    config = load_config(default_config_path())

    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(tmp_path / "root"),
        raise_on_error=False,
    )
    from samdops.pipelines.monitoring import monitoring_pipeline

    started = time.monotonic()
    launch_as(home, "monitor-week-48")  # eve, signed in, starts the run
    with local_execution():
        monitoring_pipeline(
            reference_path=str(PIMA_CSV),
            current_path=str(tmp_path / "window.csv"),
            window="week 48",
            state=str(home),
            run="monitor-week-48",
            id_column="",
            time_column="",
            admission_column="",  # the default (ICULOS) is the ICU's; Pima has no such column
            categorical="",
            ignore_columns="Outcome",
            retrain_plan_id=NAME,
            retrain_config=config.to_json(),
            retrain_data_uri=str(new_data),
        )
    print(f"monitoring + retraining through kfp.local: {time.monotonic() - started:.1f} s")

    alerts = _alerts(home)
    assert alerts[-1]["details"]["severity"] == "critical"
    assert alerts[-1]["details"]["features"].startswith("Glucose")
    assert "Glucose about 18x smaller" in alerts[-1]["details"]["evidence"]
    assert alerts[-1]["details"]["retraining"] == (f"requested: run monitor-week-48, PCCP {NAME}")
    gov = GovernedRegistry(home, sinks=[])
    after = {m.record.id: m for m in gov.models()}
    new = [m for i, m in after.items() if i not in {b.record.id for b in before}]
    (candidate,) = new
    assert candidate.record.document["lineage"]["pipeline_run"] == "monitor-week-48"
    assert candidate.record.document["pccp"]["outcome"] in ("candidate", "rejected")
    assert candidate.state in (State.VALIDATED, State.REJECTED)  # never released by a pipeline
    assert after[f"{NAME}@1"].state == State.RELEASED  # the released model is unchanged
    released = [m.record.id for m in after.values() if m.state == State.RELEASED]
    assert released == [f"{NAME}@1"]
    verified = samdops(home, "audit", "verify")
    assert verified.returncode == 0, verified.stderr


def test_no_critical_alert_no_retraining(released_home: Path, tmp_path: Path) -> None:
    home = released_home
    pd.read_csv(PIMA_CSV).sample(400, random_state=3).to_csv(tmp_path / "w.csv", index=False)
    before = len(GovernedRegistry(home, sinks=[]).models())
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    from samdops.pipelines.monitoring import monitoring_pipeline

    with local_execution():
        monitoring_pipeline(
            reference_path=str(PIMA_CSV),
            current_path=str(tmp_path / "w.csv"),
            window="control",
            state=str(home),
            id_column="",
            time_column="",
            admission_column="",  # the default (ICULOS) is the ICU's; Pima has no such column
            categorical="",
            ignore_columns="Outcome",
            retrain_plan_id=NAME,
            retrain_config=load_config(default_config_path()).to_json(),
            retrain_data_uri=str(PIMA_CSV),
        )
    assert len(GovernedRegistry(home, sinks=[]).models()) == before
    assert not (_run_dir(tmp_path / "root") / "ingest").exists()


def test_the_pima_model_is_monitored_with_its_own_scores_and_late_labels(
    released_home: Path, tmp_path: Path
) -> None:
    """No stays and no hours: rows are patients, labels join on the record id alone, the
    config's label (Outcome) is the label, and the validated baseline is the registered one."""
    home = _copy_home(released_home, tmp_path / "home")
    reference = pd.read_csv(PIMA_CSV).assign(record_id=range(768))
    reference.to_parquet(tmp_path / "reference.parquet")
    cohort = pd.read_csv(PIMA_CSV).sample(500, random_state=11).reset_index(drop=True)
    cohort["record_id"] = range(10_000, 10_500)
    cohort.drop(columns=["Outcome"]).to_parquet(tmp_path / "control.parquet")
    cohort.drop(columns=["Outcome"]).to_parquet(tmp_path / "relabelled.parquet")
    arrived = cohort.iloc[:350][["record_id", "Outcome"]].assign(**{LABEL_ARRIVAL: 1.0})
    arrived.to_parquet(tmp_path / "control-labels.parquet")
    # The outcome now means something else (a new definition): the model's ranking is wrong.
    flipped = arrived.assign(Outcome=1 - arrived["Outcome"])
    flipped.to_parquet(tmp_path / "relabelled-labels.parquet")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    from samdops.pipelines.monitoring import monitoring_pipeline

    for window in ("control", "relabelled"):
        with local_execution():
            monitoring_pipeline(
                reference_path=str(tmp_path / "reference.parquet"),
                current_path=str(tmp_path / "{window}.parquet"),
                labels_path=str(tmp_path / "{window}-labels.parquet"),
                window=window,
                model_ref=f"{NAME}@1",
                state=str(home),
                run=f"monitor-{window}",
                id_column="record_id",
                time_column="",
                admission_column="",
                categorical="",
            )

    runs = sorted((tmp_path / "root").iterdir(), key=lambda p: p.stat().st_mtime)
    control, relabelled = (json.loads((r / "drift-monitor" / "findings").read_text()) for r in runs)
    validated = GovernedRegistry(home, sinks=[]).get(f"{NAME}@1").record.document["metrics"]
    for findings in (control, relabelled):
        assert findings["model"] == f"{NAME}@1"
        concept = findings["concept_drift"]
        assert concept["baseline"]["auroc"] == validated["auroc"]["point"]
        assert concept["baseline"]["calibration_slope"] == validated["calibration_slope"]["point"]
        assert (concept["n_labelled"], concept["n_unlabelled"]) == (350, 150)
        assert concept["estimated"]["estimated"] is True
        assert findings["data_drift"]["score"] is not None  # the model's own scores were tested
        assert "Outcome" not in findings["data_drift"]["untested_columns"]
    print(
        f"Pima monitoring: validated AUROC {validated['auroc']['point']:.3f}; labelled AUROC "
        f"{control['concept_drift']['labelled']['auroc']:.3f} (control), "
        f"{relabelled['concept_drift']['labelled']['auroc']:.3f} (relabelled)"
    )
    assert control["concept_drift"]["labelled"]["auroc"] > 0.75
    assert control["concept_drift"]["is_drift"] is False
    assert not [a for a in control["alerts"] if a["kind"] == "concept_drift"]
    assert relabelled["concept_drift"]["labelled"]["auroc"] < 0.3
    assert relabelled["concept_drift"]["labelled"]["is_drift"] is True
    kinds = {(a["kind"], a["severity"]) for a in relabelled["alerts"]}
    assert ("concept_drift", "critical") in kinds
    entries = [a for a in _alerts(home) if a["details"]["alert_kind"] == "concept_drift"]
    assert [e["source"]["ref"] for e in entries] == ["monitor-relabelled"]
    assert entries[0]["details"]["model"] == f"{NAME}@1"


def test_window_and_labels_are_read_from_s3(
    s3_server: Any, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the cluster the window is an object: fetched with the store's credentials."""
    import io

    from samdops.errors import DriftInputError
    from samdops.monitoring.sources import read_source

    frame = pd.DataFrame({"patient_id": [1, 1, 2], "Time": [0, 1, 0], "HR": [80.0, 82.0, 90.0]})
    data = io.BytesIO()
    frame.to_parquet(data, index=False)
    client = s3_server.client()
    client.put_object(
        s3_bucket, "icu/data/2026-11-27.parquet", io.BytesIO(data.getvalue()), len(data.getvalue())
    )
    monkeypatch.setenv("SAMDOPS_S3_ENDPOINT", s3_server.endpoint)
    monkeypatch.setenv("SAMDOPS_SECRET_SAMDOPS_S3__ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("SAMDOPS_SECRET_SAMDOPS_S3__SECRET_KEY", s3_server.secret_key)
    got = read_source(f"s3://{s3_bucket}/icu/data/2026-11-27.parquet", "current")
    pd.testing.assert_frame_equal(got, frame)
    with pytest.raises(
        DriftInputError, match=r"^current object s3://.*/missing.parquet cannot be read"
    ):
        read_source(f"s3://{s3_bucket}/icu/data/missing.parquet", "current")


@pytest.fixture(scope="module")
def sepsis_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sepsis model trained and registered by the training pipeline's steps."""
    from samdops.steps.inprocess import run_training_in_process
    from tests.conftest import REPO

    home = tmp_path_factory.mktemp("sepsis") / "home"
    config = load_config(default_config_path().parent / "sepsis.yaml")
    run_training_in_process(
        config,
        data=REPO / "data" / "sepsis-reference.parquet",
        data_sha256=None,
        state=home,
        workdir=home.parent / "work",
        launcher=signed_in("eve"),
    )
    return home


def test_monitor_scores_with_the_registered_model_and_reports_concept_drift(
    sepsis_home: Path, tmp_path: Path
) -> None:
    from tests.conftest import REPO

    data = simulate_hospital(get_scenario("concept_definition"), days=9, seed=41, beds=100)
    for day in (7, 8):
        data.day(day).drop(columns=[LABEL, LABEL_ARRIVAL]).to_parquet(tmp_path / f"d{day}.parquet")
    labels = data.frame[["patient_id", "Time", LABEL, LABEL_ARRIVAL]]
    labels[labels[LABEL_ARRIVAL] < 9 * 24 + 12].to_parquet(tmp_path / "labels.parquet")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    from samdops.pipelines.monitoring import monitoring_pipeline

    started = time.monotonic()
    for day in (7, 8):
        with local_execution():
            monitoring_pipeline(
                reference_path=str(REPO / "data" / "sepsis-reference.parquet"),
                current_path=str(tmp_path / "d{window}.parquet"),
                labels_path=str(tmp_path / "labels.parquet"),
                window=str(day),
                model_ref="sepsis-risk",
                state=str(sepsis_home),
                run=f"monitor-day-{day}",
            )
    print(f"two scored monitoring runs through kfp.local: {time.monotonic() - started:.1f} s")

    runs = sorted((tmp_path / "root").iterdir())
    findings = json.loads((runs[-1] / "drift-monitor" / "findings").read_text())
    assert findings["model"] == "sepsis-risk@1"
    concept = findings["concept_drift"]
    assert concept["labelled"]["estimated"] is False and concept["labelled"]["is_drift"]
    assert concept["estimated"]["estimated"] is True  # the latest hours: labels not yet in
    assert findings["data_drift"]["score"] is not None  # the model's score distribution
    kinds = {(a["kind"], a["severity"]) for a in findings["alerts"]}
    assert ("concept_drift", "critical") in kinds
    entries = [a for a in _alerts(sepsis_home) if a["details"]["alert_kind"] == "concept_drift"]
    assert [e["source"]["ref"] for e in entries][-1] == "monitor-day-8"
    assert entries[-1]["details"]["model"] == "sepsis-risk@1"
    report = (runs[-1] / "drift-monitor" / "report").read_text()
    assert "AUROC over time" in report and report.count("<circle") == 2
    summary = (runs[-1] / "drift-monitor" / "summary").read_text()
    assert "| **estimated** (no labels yet, CBPE) |" in summary
    metrics = json.loads((runs[-1] / "drift-monitor" / "executor_output.json").read_text())
    assert "auroc" in json.dumps(metrics)


def test_monitor_cli_scores_with_a_registered_model(sepsis_home: Path, tmp_path: Path) -> None:
    from tests.conftest import REPO

    sepsis_home = _copy_home(sepsis_home, tmp_path / "home")  # the CLI keeps the window's history

    data = simulate_hospital(get_scenario("concept_definition"), days=8, seed=43, beds=100)
    data.day(7).drop(columns=[LABEL, LABEL_ARRIVAL]).to_parquet(tmp_path / "day7.parquet")
    data.frame[["patient_id", "Time", LABEL, LABEL_ARRIVAL]].to_parquet(tmp_path / "labels.parquet")
    args = [
        "monitor",
        "--reference",
        str(REPO / "data" / "sepsis-reference.parquet"),
        "--current",
        str(tmp_path / "day7.parquet"),
        "--id-column",
        "patient_id",
        "--time-column",
        "Time",
        "--categorical",
        CATEGORICAL_SPEC,
        "--model",
        "sepsis-risk@1",
        "--home",
        str(sepsis_home),
        "--labels",
        str(tmp_path / "labels.parquet"),
        "--json",
    ]
    reference = pd.read_parquet(REPO / "data" / "sepsis-reference.parquet")
    window = pd.read_parquet(tmp_path / "day7.parquet")[list(reference.columns.drop(LABEL))]
    window.to_parquet(tmp_path / "day7.parquet")  # the same columns as the reference
    done = samdops(sepsis_home, *args)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    concept = report["concept_drift"]
    assert concept["labelled"]["is_drift"] is True and concept["estimated"] is None
    assert report["data_drift"]["score"] is not None
    assert concept["baseline"]["auroc"] > 0.9
    assert report["window"] == "day7" and report["model"] == "sepsis-risk@1"
    history = sorted((sepsis_home / "monitoring").glob("*/history/*.json"))
    assert json.loads(history[-1].read_text())["window"] == "day7"
    # Issue 18: each file read by the OS account (no users here), its sha256 and rows
    from samdops.governance.launch import os_account

    files = {
        "reference": REPO / "data" / "sepsis-reference.parquet",
        "current": tmp_path / "day7.parquet",
        "labels": tmp_path / "labels.parquet",
    }
    reads = [
        r.event
        for r in GovernedRegistry(sepsis_home, sinks=[]).audit.entries()
        if r.event.action == Action.READ and r.event.source.ref == "samdops monitor"
    ]
    assert [
        (e.detail_map()["role"], e.target.version, e.detail_map()["rows"], e.actor.id)
        for e in reads
    ] == [
        (role, sha256_file(path), str(len(pd.read_parquet(path))), f"os:{os_account()}")
        for role, path in files.items()
    ]


def _copy_home(home: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(home, to)
    return to


def test_the_cli_and_the_pipeline_step_give_the_same_findings(
    sepsis_home: Path, tmp_path: Path
) -> None:
    """One procedure: `samdops monitor` and the drift-monitor step, on the same window, the same
    registered model and the same labels, each in its own copy of the home."""
    from samdops.hospital.columns import ICULOS
    from samdops.steps.inprocess import _Artifact
    from samdops.steps.monitoring import MonitorOptions, drift_monitor_step, fetch_window_step
    from tests.conftest import REPO

    reference_path = REPO / "data" / "sepsis-reference.parquet"
    reference = pd.read_parquet(reference_path)
    data = simulate_hospital(get_scenario("lactate_mgdl"), days=6, seed=44, beds=80)
    window = data.day(5)[list(reference.columns.drop(LABEL))]
    window.to_parquet(tmp_path / "2026-12-01.parquet")
    data.frame[["patient_id", "Time", LABEL, LABEL_ARRIVAL]].to_parquet(tmp_path / "labels.parquet")
    cli_home = _copy_home(sepsis_home, tmp_path / "cli-home")
    step_home = _copy_home(sepsis_home, tmp_path / "step-home")

    done = samdops(
        cli_home,
        *("monitor", "--reference", str(reference_path)),
        *("--current", str(tmp_path / "2026-12-01.parquet")),
        *("--id-column", "patient_id", "--time-column", "Time", "--admission-column", ICULOS),
        *("--categorical", CATEGORICAL_SPEC, "--model", "sepsis-risk@1"),
        *("--home", str(cli_home), "--labels", str(tmp_path / "labels.parquet"), "--json"),
    )
    assert done.returncode == 0, done.stderr

    arts = {
        name: _Artifact(str(tmp_path / "arts" / name)) for name in ("r", "c", "l", "h", "s", "f")
    }
    fetch_window_step(
        str(reference_path),
        str(tmp_path / "{window}.parquet"),
        str(tmp_path / "labels.parquet"),
        "2026-12-01",
        arts["r"],
        arts["c"],
        arts["l"],
    )
    options = MonitorOptions(
        id_column="patient_id",
        time_column="Time",
        admission_column=ICULOS,
        categorical=CATEGORICAL_SPEC,
        model_ref="sepsis-risk@1",
        state=str(step_home),
    )
    drift_monitor_step(
        arts["r"], arts["c"], arts["l"], "2026-12-01", options, arts["h"], arts["s"], arts["f"]
    )
    step_findings = Path(arts["f"].path).read_text(encoding="utf-8")
    assert done.stdout == step_findings
    findings = json.loads(step_findings)
    assert findings["data_drift"]["is_drift"] is True
    assert findings["alerts"] and findings["concept_drift"]["labelled"] is not None


def test_run_monitor_runs_the_pipeline_on_one_window(tmp_path: Path) -> None:
    """`samdops run monitor`: the same pipeline through kfp.local, from the command line."""
    _write_lactate_window(tmp_path)
    home = tmp_path / "home"
    done = samdops(
        home,
        "run", "monitor",
        "--reference", str(tmp_path / "reference.parquet"),
        "--current", str(tmp_path / "day_{window}.csv"),
        "--window", "0004",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[:3]] == [
        "fetch-window",
        "drift-monitor",
        "record-alerts",
    ]
    assert "window 0004: data drift: DRIFT" in lines
    assert any(line.startswith("alert: critical data_drift: Lactate") for line in lines)
    assert len(_alerts(home)) == 1
    refused = samdops(home, "run", "monitor", "--reference", "r.parquet", "--current", "c.csv")
    assert refused.returncode == 2
    assert refused.stderr == "samdops: error: input file r.parquet does not exist\n"
    assert len(list((home / "runs").iterdir())) == 1  # the refused run left nothing behind
