"""One kfp.local run of the monitoring pipeline on a simulated lactate assay change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kfp import local

from samdops.hospital import get_scenario, simulate_hospital
from samdops.hospital.columns import LABEL, LABEL_ARRIVAL

pytestmark = pytest.mark.slow


def test_monitoring_pipeline_runs_locally_and_records_the_alert(tmp_path: Path) -> None:
    reference = simulate_hospital(get_scenario("no_drift"), days=3, seed=21, beds=60).frame
    window = simulate_hospital(get_scenario("lactate_mgdl"), days=5, seed=22, beds=60).day(4)
    drop = [LABEL, LABEL_ARRIVAL]
    reference.drop(columns=drop).to_parquet(tmp_path / "reference.parquet")
    window.drop(columns=drop).to_csv(tmp_path / "day_0004.csv", index=False)
    alert_log = tmp_path / "alerts.jsonl"

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    from samdops.pipelines.monitoring import monitoring_pipeline

    monitoring_pipeline(
        reference_path=str(tmp_path / "reference.parquet"),
        current_path=str(tmp_path / "day_0004.csv"),
        alert_log=str(alert_log),
        window="day 4",
    )

    alerts = [json.loads(line) for line in alert_log.read_text().splitlines()]
    assert len(alerts) == 1
    assert alerts[0]["severity"] == "critical" and alerts[0]["features"][0] == "Lactate"
    assert alerts[0]["evidence"][0].startswith("Lactate about 9x larger than reference")
    (run_dir,) = (tmp_path / "root").iterdir()
    report = (run_dir / "drift-monitor" / "report").read_text()
    assert "<svg" in report and "Lactate" in report
    summary = (run_dir / "drift-monitor" / "summary").read_text()
    assert summary.startswith("# Drift monitor: window day 4") and "**DRIFT**" in summary


def test_monitoring_pipeline_compiles(tmp_path: Path) -> None:
    from kfp import compiler

    from samdops.pipelines.monitoring import monitoring_pipeline

    out = tmp_path / "monitoring.yaml"
    compiler.Compiler().compile(monitoring_pipeline, str(out))
    text = out.read_text()
    assert "samdops-monitoring" in text and "system.HTML" in text and "system.Markdown" in text
