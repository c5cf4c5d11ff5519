"""The monitoring steps as library calls: a scored window, its concept drift with late labels,
alerts as audit entries and SIEM events (and the attacks on them), the bounded history."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from samdops.audit import AuditLog, LocalEd25519Signer
from samdops.audit.entry import decode_entry, encode_entry
from samdops.audit.event import AuditEvent
from samdops.drift.alerts import Alert
from samdops.errors import AccessDenied, AuditError, ConfigError, DriftInputError
from samdops.governance.roles import Permission, Role, require
from samdops.governance.service import GovernedRegistry
from samdops.hospital import get_scenario, simulate_hospital
from samdops.hospital.columns import CATEGORICAL_SPEC, ICULOS, LABEL, LABEL_ARRIVAL, STAY_ID, TIME
from samdops.hospital.generator import HospitalData
from samdops.monitoring.audit_sink import ALERT_KIND, DRIFT_MONITOR_ACTOR, AuditAlertSink
from samdops.monitoring.history import MonitorHistory, WindowRecord, monitoring_prefix
from samdops.monitoring.scoring import MonitoredModel
from samdops.sepsis.model import train_sepsis_model
from samdops.steps.artifacts import record
from samdops.steps.inprocess import _Artifact as Art
from samdops.steps.monitoring import (
    RETRAIN,
    MonitorOptions,
    drift_monitor_step,
    fetch_window_step,
    monitor_window,
    record_alerts_step,
    resolve_window,
)
from tests.cli_helpers import samdops
from tests.unit.test_siem import parse_cef, udp_listener  # noqa: F401  (a fixture)

WINDOW_DAY = 7


@pytest.fixture(scope="module")
def model() -> MonitoredModel:
    train = simulate_hospital(get_scenario("no_drift"), days=6, seed=36, beds=120).frame
    return train_sepsis_model(train)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ref") / "reference.parquet"
    frame = simulate_hospital(get_scenario("no_drift"), days=6, seed=36, beds=120).frame
    frame.drop(columns=[LABEL, LABEL_ARRIVAL]).to_parquet(path)
    return path


def _window(tmp: Path, scenario: str, labels_by_hour: float | None) -> tuple[Path, Path]:
    """The day-7 window of ``scenario`` and the labels that arrived by ``labels_by_hour``."""
    data = simulate_hospital(get_scenario(scenario), days=WINDOW_DAY + 1, seed=40, beds=120)
    current, labels = tmp / f"{scenario}.parquet", tmp / f"{scenario}-labels.parquet"
    data.day(WINDOW_DAY).drop(columns=[LABEL, LABEL_ARRIVAL]).to_parquet(current)
    arrived = data.frame[[STAY_ID, TIME, LABEL, LABEL_ARRIVAL]]
    if labels_by_hour is not None:
        arrived = arrived[arrived[LABEL_ARRIVAL] < labels_by_hour]
    arrived.to_parquet(labels)
    return current, labels


def _monitor(
    tmp: Path,
    reference: Path,
    current: Path,
    labels: str,
    model: MonitoredModel | None,
    window: str,
    backend: str = "scipy",
) -> tuple[dict[str, Any], dict[str, Art]]:
    arts = {k: Art(str(tmp / k)) for k in ("ref", "cur", "labels", "report", "summary", "find")}
    fetch_window_step(
        str(reference), str(current), labels, window, arts["ref"], arts["cur"], arts["labels"]
    )
    outcome = drift_monitor_step(
        reference=arts["ref"],
        current=arts["cur"],
        labels=arts["labels"],
        window=window,
        options=MonitorOptions(
            id_column=STAY_ID,
            time_column=TIME,
            admission_column=ICULOS,
            categorical=CATEGORICAL_SPEC,
            backend=backend,
            model_ref="sepsis@1" if model else "",
            state=str(tmp / "home"),
        ),
        report=arts["report"],
        summary=arts["summary"],
        findings=arts["find"],
        model=model,
    )
    return outcome, arts


# -- concept drift with late labels ---------------------------------------------------------------


def test_scored_window_measures_where_labels_arrived_and_estimates_elsewhere(
    tmp_path: Path, reference: Path, model: MonitoredModel
) -> None:
    end_of_window_plus_12h = (WINDOW_DAY + 1) * 24 + 12
    current, labels = _window(tmp_path, "concept_definition", end_of_window_plus_12h)
    outcome, arts = _monitor(tmp_path, reference, current, str(labels), model, "day 7")
    findings = json.loads(Path(arts["find"].path).read_text())
    concept = findings["concept_drift"]
    assert concept["n_labelled"] > 0 and concept["n_unlabelled"] > 0
    measured, estimated = concept["labelled"], concept["estimated"]
    assert measured["estimated"] is False and estimated["estimated"] is True
    assert concept["baseline"]["auroc"] == pytest.approx(model.baseline.auroc)
    assert measured["auroc"] < model.baseline.auroc - 0.05 and measured["is_drift"]
    for key in ("calibration_slope", "calibration_intercept", "ppv", "alert_rate"):
        assert key in measured
    assert isinstance(measured["adwin_changes"], list)
    (alert,) = findings["alerts"]
    assert (alert["kind"], alert["severity"], alert["model"]) == (
        "concept_drift",
        "critical",
        "sepsis@1",
    )
    assert alert["evidence"][0].startswith("measured AUROC 0.")
    assert outcome["critical"] and outcome["auroc"] == pytest.approx(measured["auroc"])
    score_tests = findings["data_drift"]["score"]
    assert score_tests is not None and score_tests["test"] == "KS"  # the model's score drift
    summary = Path(arts["summary"].path).read_text()
    assert "| **estimated** (no labels yet, CBPE) |" in summary
    assert "**CRITICAL alert** (concept_drift)" in summary
    report = Path(arts["report"].path).read_text()
    assert "<b>estimated</b> (CBPE)" in report and "AUROC over time" in report


def test_a_well_performing_window_raises_no_concept_alert(
    tmp_path: Path, reference: Path, model: MonitoredModel
) -> None:
    current, labels = _window(tmp_path, "no_drift", None)
    _, arts = _monitor(tmp_path, reference, current, str(labels), model, "day 7")
    findings = json.loads(Path(arts["find"].path).read_text())
    assert findings["alerts"] == [] and findings["concept_drift"]["estimated"] is None
    assert findings["concept_drift"]["labelled"]["is_drift"] is False


def test_without_labels_the_whole_window_is_an_estimate(
    tmp_path: Path, reference: Path, model: MonitoredModel
) -> None:
    current, _ = _window(tmp_path, "no_drift", 0)
    _, arts = _monitor(tmp_path, reference, current, "", model, "day 7")
    concept = json.loads(Path(arts["find"].path).read_text())["concept_drift"]
    assert concept["labelled"] is None and concept["estimated"]["estimated"] is True
    assert concept["n_labelled"] == 0


def test_labels_without_the_label_columns_are_refused(
    tmp_path: Path, reference: Path, model: MonitoredModel
) -> None:
    current, labels = _window(tmp_path, "no_drift", None)
    pd.read_parquet(labels).drop(columns=[LABEL_ARRIVAL]).to_parquet(labels)
    with pytest.raises(DriftInputError, match=r"^labels lack column\(s\) LabelArrival$"):
        _monitor(tmp_path, reference, current, str(labels), model, "day 7")


@pytest.mark.parametrize("bad", ["yes", 2, -1])
def test_labels_other_than_0_or_1_are_refused(
    tmp_path: Path, reference: Path, model: MonitoredModel, bad: object
) -> None:
    current, labels = _window(tmp_path, "no_drift", None)
    arrived = pd.read_parquet(labels)
    arrived[LABEL] = arrived[LABEL].astype(object)
    arrived.loc[arrived.index[3], LABEL] = bad
    arrived.astype({LABEL: str if bad == "yes" else float}).to_parquet(labels)
    with pytest.raises(DriftInputError) as info:
        _monitor(tmp_path, reference, current, str(labels), model, "day 7")
    shown = repr(bad) if bad == "yes" else repr(float(bad))  # type: ignore[arg-type]
    assert str(info.value) == f"labels column {LABEL} must hold 0 or 1, but holds {shown}"


def test_a_scored_window_needs_the_columns_its_labels_join_on(
    tmp_path: Path, reference: Path, model: MonitoredModel
) -> None:
    current, _ = _window(tmp_path, "no_drift", 0)
    frame = pd.read_parquet(current)
    ref = pd.read_parquet(reference)
    options = MonitorOptions(id_column="", time_column=TIME, state=str(tmp_path / "h"))
    with pytest.raises(ConfigError) as info:
        monitor_window(ref, frame, None, "day 7", options, model)
    assert str(info.value) == (
        "a scored window needs id_column (--id-column) to join its labels to its rows"
    )
    options = MonitorOptions(id_column=STAY_ID, time_column="", state=str(tmp_path / "h"))
    with pytest.raises(ConfigError) as info:
        monitor_window(ref, frame, None, "day 7", options, model)
    assert str(info.value) == (
        "this model's inputs look back over earlier hours of a stay: a scored window needs "
        "time_column (--time-column) too"
    )


def test_history_feeds_the_report_and_stays_bounded(
    tmp_path: Path, reference: Path, model: MonitoredModel
) -> None:
    current, labels = _window(tmp_path, "no_drift", None)
    for day in ("day 5", "day 6", "day 7"):
        _, arts = _monitor(tmp_path, reference, current, str(labels), model, day)
    history = MonitorHistory(tmp_path / "home", f"{monitoring_prefix('sepsis@1')}/history")
    assert [r.window for r in history.recent()] == ["day 5", "day 6", "day 7"]
    report = Path(arts["report"].path).read_text()
    assert "Smallest p-value over time" in report and report.count("<circle") == 3
    assert "day 5 to day 7" in report


def test_history_keeps_the_last_windows_and_skips_a_half_written_record(tmp_path: Path) -> None:
    history = MonitorHistory(tmp_path, "m/history", limit=5)
    for i in range(12):
        history.append(WindowRecord(f"w{i}", 0.5, False, auroc=float("nan")))
    # a writer that crashed mid-write leaves only its private temporary file
    (tmp_path / "m" / "history" / ".000000000013.json.x.tmp").write_text('{"window": "torn"')
    recent = history.recent()
    assert [r.window for r in recent] == [f"w{i}" for i in range(7, 12)]
    assert recent[0].auroc is None  # NaN is stored as null
    assert sorted(p.name for p in (tmp_path / "m" / "history").glob("0*.json"))[-1] == (
        "000000000012.json"
    )


def test_concurrent_history_appends_get_distinct_records(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    history = MonitorHistory(tmp_path, "m/history", limit=100)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: history.append(WindowRecord(f"w{i}", 0.5, False)), range(40)))
    assert sorted(r.window for r in history.recent()) == sorted(f"w{i}" for i in range(40))


def test_window_defaults_to_yesterday_and_fills_the_path(tmp_path: Path) -> None:
    assert resolve_window("", datetime(2026, 3, 1, 2, 0, tzinfo=UTC)) == "2026-02-28"
    assert resolve_window(" day 4 ") == "day 4"
    pd.DataFrame({"x": [1.0, 2.0]}).to_csv(tmp_path / "day_0004.csv", index=False)
    arts = {k: Art(str(tmp_path / k)) for k in ("r", "c", "l")}
    path = str(tmp_path / "day_{window}.csv")
    assert fetch_window_step(path, path, "", "0004", arts["r"], arts["c"], arts["l"]) == "0004"
    assert arts["c"].metadata["rows"] == 2 and arts["l"].metadata["rows"] == 0


# -- alerts as audit entries and SIEM events -----------------------------------------------------


def _findings(tmp_path: Path, *alerts: Alert) -> Art:
    path = tmp_path / "findings.json"
    path.write_text(json.dumps({"alerts": [a.as_dict() for a in alerts]}) + "\n")
    findings = Art(str(path))
    record(findings)  # as drift_monitor records it
    return findings


CRITICAL = Alert(
    severity="critical",
    kind="data_drift",
    window="day 4",
    features=("Lactate", "score"),
    evidence=("Lactate about 9x larger than reference (unit or scale change?) (KS, p=0)",),
    model="sepsis@3",
)
WARNING = Alert(
    severity="warning",
    kind="concept_drift",
    window="day 4",
    features=("model score",),
    evidence=("estimated AUROC (no labels yet, CBPE) 0.700 below the validated 0.950 (n=90)",),
    model="sepsis@3",
)


@pytest.fixture
def siem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, udp_listener: socket.socket) -> Path:  # noqa: F811
    """``$SAMDOPS_SIEM``: a real UDP syslog listener and an OCSF file."""
    ocsf = tmp_path / "siem.ocsf.jsonl"
    port = udp_listener.getsockname()[1]
    monkeypatch.setenv("SAMDOPS_SIEM", f"syslog+udp://127.0.0.1:{port},ocsf+file://{ocsf}")
    return ocsf


def test_each_alert_is_one_audit_entry_and_one_siem_event(
    tmp_path: Path,
    siem: Path,
    udp_listener: socket.socket,  # noqa: F811
) -> None:
    home = tmp_path / "home"
    findings = _findings(tmp_path, CRITICAL, WARNING)
    decision = record_alerts_step(findings, str(home), "monitor-day-4", "")
    assert decision == ""  # no plan: never retrain
    entries = [r for r in GovernedRegistry(home, sinks=[]).audit.entries()]
    assert len(entries) == 2
    first = entries[0].event.to_dict()
    assert first["actor"] == {"id": DRIFT_MONITOR_ACTOR, "auth": "service_account_token"}
    assert first["action"] == "create" and first["outcome"] == "success"
    assert first["target"] == "drift-alert:sepsis@3@day_4.data_drift"
    assert first["source"] == {"kind": "pipeline_run", "ref": "monitor-day-4"}
    from samdops.digest import sha256_file

    digest = sha256_file(findings.path)
    assert first["new_hash"] == digest
    assert first["details"] == {
        "kind": ALERT_KIND,
        "alert_kind": "data_drift",
        "severity": "critical",
        "cef_severity": "8",
        "window": "day 4",
        "features": "Lactate, score",
        "evidence": CRITICAL.evidence[0],
        "model": "sepsis@3",
        "findings_sha256": digest,
        "retraining": "not requested",
        "message": "critical data_drift in window day 4: " + CRITICAL.evidence[0],
    }
    # The SIEM got both alerts (and the checkpoints) over real syslog, and as OCSF lines.
    cefs = []
    while len(cefs) < 2:
        data, _ = udp_listener.recvfrom(65535)
        message = data.decode().split(" - ", 1)[1]
        if message.startswith("CEF:0|samdops|samdops-audit|") and "|audit:create|" in message:
            cefs.append(parse_cef(message))
    (header, ext), (header2, _) = cefs
    assert header[5] == "create drift-alert:sepsis@3@day_4.data_drift" and header[6] == "8"
    assert header2[6] == "6"  # a warning
    assert ext["msg"].startswith("critical data_drift in window day 4: Lactate about 9x")
    assert ext["suser"] == DRIFT_MONITOR_ACTOR and ext["cs5"] == digest
    ocsf = [json.loads(line) for line in siem.read_text().splitlines()]
    alerts = [e for e in ocsf if "details" in e.get("unmapped", {})]
    assert [a["unmapped"]["details"]["severity"] for a in alerts] == ["critical", "warning"]
    assert alerts[0]["severity_id"] == 4 and alerts[1]["severity_id"] == 3
    verified = samdops(home, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    lines = verified.stdout.splitlines()
    assert any(line.startswith("audit log OK: 2 entries, checkpoint at size 2") for line in lines)
    assert lines[-1].endswith("checkpoint at size 2 matches the log")


def test_a_critical_alert_with_a_plan_requests_retraining_in_its_entry(tmp_path: Path) -> None:
    home = tmp_path / "home"
    decision = record_alerts_step(
        _findings(tmp_path, CRITICAL, WARNING), str(home), "monitor-day-4", "sepsis-pccp"
    )
    assert decision == RETRAIN
    details = [dict(r.event.details) for r in GovernedRegistry(home, sinks=[]).audit.entries()]
    assert [d["retraining"] for d in details] == [
        "requested: run monitor-day-4, PCCP sepsis-pccp",
        "not requested",
    ]
    assert record_alerts_step(_findings(tmp_path, WARNING), str(home), "r", "plan") == ""
    assert record_alerts_step(_findings(tmp_path), str(home), "r", "plan") == ""


def test_editing_an_alert_entry_is_caught_by_audit_verify(tmp_path: Path) -> None:
    home = tmp_path / "home"
    record_alerts_step(_findings(tmp_path, CRITICAL), str(home), "monitor-day-4", "")
    record_alerts_step(_findings(tmp_path, WARNING), str(home), "monitor-day-5", "")
    entry = home / "audit" / "entries" / "000000000000.entry"
    record = decode_entry(0, entry.read_bytes())
    forged = record.event.to_dict()
    forged["details"]["severity"] = "info"  # hide the critical alert
    data, _ = encode_entry(0, record.prev, AuditEvent.from_dict(forged))  # leaf hash recomputed
    entry.write_bytes(data)
    verified = samdops(home, "audit", "verify")
    assert verified.returncode == 2
    assert verified.stderr.startswith("samdops: error: entry 1 ")


def test_the_monitor_identity_cannot_release_register_or_sign() -> None:
    roles = frozenset({Role.DRIFT_MONITOR})
    require(DRIFT_MONITOR_ACTOR, roles, Permission.RECORD_ALERT)
    allowed = {Permission.RECORD_ALERT, Permission.READ_REGISTRY, Permission.READ_DATA}
    for permission in set(Permission) - allowed:
        with pytest.raises(AccessDenied, match=f"may not {permission.value};"):
            require(DRIFT_MONITOR_ACTOR, roles, permission)


def test_an_alert_that_cannot_be_recorded_fails_the_step(tmp_path: Path) -> None:
    audit_dir = tmp_path / "audit"
    audit_dir.mkdir()
    (audit_dir / "entries").write_text("not a directory")  # no entry can be written durably
    signer = LocalEd25519Signer.load_or_create(tmp_path / "key.pem")
    sink = AuditAlertSink(AuditLog.open(audit_dir, signer=signer, sinks=[]), "r")
    with pytest.raises(AuditError, match=r"^cannot "):
        record_alerts_step(_findings(tmp_path, CRITICAL), "", "r", "", sink=sink)


@pytest.fixture(autouse=True)
def _no_stray_siem(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("SAMDOPS_SIEM", raising=False)
    yield


@pytest.fixture(scope="module")
def labelled_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model's training data with its labels, as data/sepsis-reference.parquet has them."""
    path = tmp_path_factory.mktemp("ref") / "labelled.parquet"
    frame = simulate_hospital(get_scenario("no_drift"), days=6, seed=36, beds=120).frame
    frame.drop(columns=[LABEL_ARRIVAL]).to_parquet(path)
    return path


def _daily_runs(
    tmp: Path,
    reference: Path,
    model: MonitoredModel,
    scenario: str,
    days: range,
    data: HospitalData | None = None,
) -> list[dict[str, Any]]:
    """One run a day, as scheduled: the day's rows and only the labels confirmed that day
    (they describe hours 1-3 days earlier, never the day's own)."""
    if data is None:
        data = simulate_hospital(get_scenario(scenario), days=days.stop, seed=44, beds=120)
    arrival_day = data.frame[LABEL_ARRIVAL] // 24
    found = []
    for day in days:
        current, labels = tmp / f"{scenario}-{day}.parquet", tmp / f"{scenario}-{day}-l.parquet"
        data.day(day).drop(columns=[LABEL, LABEL_ARRIVAL]).to_parquet(current)
        arrived = data.frame.loc[arrival_day == day, [STAY_ID, TIME, LABEL, LABEL_ARRIVAL]]
        arrived.to_parquet(labels)
        _, arts = _monitor(tmp, reference, current, str(labels), model, f"day {day}")
        found.append(json.loads(Path(arts["find"].path).read_text()))
    return found


def test_scheduled_runs_catch_concept_drift_from_labels_of_earlier_windows(
    tmp_path: Path, labelled_reference: Path, model: MonitoredModel
) -> None:
    runs = _daily_runs(tmp_path, labelled_reference, model, "concept_definition", range(1, 10))
    # A day's own hours never have labels yet: only the late labels joined to the scores of
    # earlier windows, replayed through the concept monitor, can show the change.
    assert all(r["concept_drift"]["labelled"] is None for r in runs)
    sequential = [r["concept_drift"]["sequential"] for r in runs]
    assert sequential[0] is None  # day 1: no labels have arrived yet
    assert all(s["n_labels"] > 0 for s in sequential[1:])
    alarmed = [r["window"] for r, s in zip(runs, sequential, strict=True) if s and s["is_drift"]]
    assert alarmed and alarmed[0] >= "day 4"  # onset day 3; its labels arrive a day or more later
    first = next(r for r in runs if r["window"] == alarmed[0])
    (alert,) = [a for a in first["alerts"] if a["kind"] == "concept_drift"]
    assert alert["severity"] == "critical" and alert["model"] == "sepsis@1"
    summary = Path(tmp_path / "summary").read_text()  # the last run's
    assert "Concept monitor on the labels that arrived late" in summary


def test_scheduled_runs_on_a_stable_hospital_raise_no_concept_alert(
    tmp_path: Path, labelled_reference: Path, model: MonitoredModel
) -> None:
    runs = _daily_runs(tmp_path, labelled_reference, model, "no_drift", range(1, 10))
    sequential = [r["concept_drift"]["sequential"] for r in runs[1:]]
    assert [s["cusum"] for s in sequential if s["is_drift"]] == []
    assert [a for r in runs for a in r["alerts"] if a["kind"] == "concept_drift"] == []


def test_window_columns_the_reference_lacks_are_listed_untested(
    tmp_path: Path, reference: Path
) -> None:
    narrow = tmp_path / "narrow.parquet"
    pd.read_parquet(reference).drop(columns=["EtCO2", "FiO2"]).to_parquet(narrow)
    current, _ = _window(tmp_path, "no_drift", None)
    _, arts = _monitor(tmp_path, narrow, current, "", None, "day 7")
    data = json.loads(Path(arts["find"].path).read_text())["data_drift"]
    assert data["untested_columns"] == ["EtCO2", "FiO2"]
    tested = {*data["features"], *data["missingness"]}
    assert "HR" in tested and tested.isdisjoint({"EtCO2", "FiO2"})


def test_the_backend_is_a_parameter(tmp_path: Path, reference: Path) -> None:
    current, _ = _window(tmp_path, "lactate_mgdl", None)
    _, arts = _monitor(tmp_path, reference, current, "", None, "day 7", backend="alibi")
    data = json.loads(Path(arts["find"].path).read_text())["data_drift"]
    assert data["blamed"] == "Lactate" and data["features"]["Lactate"]["test"] == "alibi KSDrift"
    assert data["multivariate"]["test"] == "alibi ClassifierDrift"
    with pytest.raises(ConfigError, match=r"^drift backend 'sklearn' is not one of scipy, alibi$"):
        _monitor(tmp_path, reference, current, "", None, "day 7", backend="sklearn")


def test_a_window_is_scored_with_the_previous_window_s_hours_in_front(
    tmp_path: Path, labelled_reference: Path, model: MonitoredModel
) -> None:
    """The model's trend and time-since-measured features look back over hours: the first
    hours of a window are scored with the same stays' hours of the window before."""
    data = simulate_hospital(get_scenario("no_drift"), days=3, seed=45, beds=120)
    _daily_runs(tmp_path, labelled_reference, model, "no_drift", range(1, 3), data=data)
    (scored_file,) = (tmp_path / "home" / monitoring_prefix("sepsis@1")).glob(
        "labels/scored/day_2/*.parquet"
    )
    scored = pd.read_parquet(scored_file)
    day1, day2 = (data.day(d).drop(columns=[LABEL, LABEL_ARRIVAL]) for d in (1, 2))
    both = pd.concat([day1[day1[STAY_ID].isin(day2[STAY_ID])], day2], ignore_index=True)
    expected = model.score(both)[-len(day2) :]
    assert scored["score"].to_numpy() == pytest.approx(expected)
    alone = model.score(day2.reset_index(drop=True))
    assert (abs(alone - expected) > 1e-6).sum() > 50  # history changes the first hours' scores
