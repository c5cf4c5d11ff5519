"""Issue 18: every table the drift monitor reads is an audit ``read`` (purpose monitor) by its
service identity, once per step that reads it, with the digest and rows of what it read; the
prediction log and label feed are named as such; no labels is no read, an empty label window is
a read of 0 rows; an audit log that refuses appends leaves no window behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from samdops.audit.entry import AuditRecord
from samdops.audit.event import Action, AuthMethod, EventKind, Outcome, SourceKind
from samdops.audit.store import DocumentEntryStore
from samdops.errors import AuditError
from samdops.governance.service import GovernedRegistry
from samdops.hospital import get_scenario, simulate_hospital
from samdops.hospital.columns import LABEL, LABEL_ARRIVAL, STAY_ID, TIME
from samdops.monitoring.audit_sink import DRIFT_MONITOR_ACTOR
from samdops.monitoring.label_feed import HOSPITAL_COLUMNS, LabelFeed
from samdops.steps.audited import IN_PROCESS_IMAGE, StepRun, audited_call
from samdops.steps.inprocess import _Artifact as Art
from samdops.steps.monitoring import MonitorOptions, drift_monitor_step, fetch_window_step
from samdops.store.state import open_state
from tests.cli_helpers import cli_in_process
from tests.governed import PASSWORDS, staffed_registry
from tests.prediction_log import log_records, write_records

RUN = "monitor-run-7"
REFUSED = "the audit store refuses appends"


def _reads(home: Path, start: int = 0) -> list[AuditRecord]:
    return [r for r in GovernedRegistry(home).audit.entries(start) if r.event.action == Action.READ]


def _tables(tmp_path: Path, *, labelled: bool = True) -> dict[str, str]:
    rng = np.random.default_rng(3)
    paths = {"reference": tmp_path / "ref.parquet", "current": tmp_path / "cur.csv"}
    pd.DataFrame({"x": rng.normal(size=200), "y": rng.normal(size=200)}).to_parquet(
        paths["reference"]
    )
    pd.DataFrame({"x": rng.normal(size=90), "y": rng.normal(size=90)}).to_csv(
        paths["current"], index=False
    )
    if labelled:
        paths["labels"] = tmp_path / "labels.csv"
        pd.DataFrame({"id": [1, 2, 3], "label": [0, 1, 0]}).to_csv(paths["labels"], index=False)
    return {k: str(v) for k, v in paths.items()}


def _fetch(
    home: Path, tmp_path: Path, paths: dict[str, str], window: str = "day 3", **options: str
) -> dict[str, Art]:
    arts = {k: Art(str(tmp_path / "run" / k)) for k in ("reference", "current", "labels")}
    audited_call(
        fetch_window_step,
        StepRun(str(home), RUN, IN_PROCESS_IMAGE),
        (paths["reference"], paths["current"], paths.get("labels", ""), window),
        {**arts, "state": str(home), **options},
    )
    return arts


def _monitor(home: Path, tmp_path: Path, arts: dict[str, Art]) -> None:
    outputs = {k: Art(str(tmp_path / "run" / k)) for k in ("report", "summary", "findings")}
    kwargs: dict[str, Any] = {**arts, **outputs}
    kwargs["window"], kwargs["options"] = "day 3", MonitorOptions(state=str(home))
    audited_call(drift_monitor_step, StepRun(str(home), RUN, IN_PROCESS_IMAGE), (), kwargs)


def _summary(record: AuditRecord) -> tuple[str, str, str, str, str]:
    event, details = record.event, record.event.detail_map()
    return (
        details["role"],
        event.target.id,
        event.target.version,
        details["rows"],
        str(event.new_hash),
    )


def test_each_step_records_each_table_it_read_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    paths = _tables(tmp_path)
    arts = _fetch(home, tmp_path, paths)
    fetched = _reads(home)
    expected = [
        (role, f"dataset/monitor/{role}", a.metadata["sha256"], str(rows), a.metadata["sha256"])
        for (role, a), rows in zip(arts.items(), (200, 90, 3), strict=True)
    ]
    assert [_summary(r) for r in fetched] == expected
    for record in fetched:
        event = record.event
        assert (event.actor.id, event.actor.auth) == (
            DRIFT_MONITOR_ACTOR,
            AuthMethod.SERVICE_ACCOUNT_TOKEN,
        )
        assert (event.kind, event.outcome) == (EventKind.ACCESS, Outcome.SUCCESS)
        assert (event.source.kind, event.source.ref) == (SourceKind.PIPELINE_RUN, RUN)
        details = event.detail_map()
        assert (details["purpose"], details["window"]) == ("monitor", "day 3")
        assert details["location"] == paths[details["role"]]
    assert max(GovernedRegistry(home).audit.store.checkpoint_sizes()) == len(
        GovernedRegistry(home).audit
    )  # covered before the step returned
    start = len(GovernedRegistry(home).audit)
    _monitor(home, tmp_path, arts)
    assert [_summary(r) for r in _reads(home, start)] == expected  # the copies, read again


def test_a_window_without_labels_reads_no_labels(tmp_path: Path) -> None:
    home = tmp_path / "home"
    arts = _fetch(home, tmp_path, _tables(tmp_path, labelled=False))
    assert [r.event.detail_map()["role"] for r in _reads(home)] == ["reference", "current"]
    start = len(GovernedRegistry(home).audit)
    _monitor(home, tmp_path, arts)
    assert [r.event.detail_map()["role"] for r in _reads(home, start)] == ["reference", "current"]


def test_the_prediction_log_and_the_label_feed_are_named_and_an_empty_day_is_a_read_of_0_rows(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    state = open_state(home)
    hospital = simulate_hospital(get_scenario("no_drift"), days=2, seed=40, beds=12)
    write_records(state, log_records(hospital.frame, lambda f: np.full(len(f), 0.2), range(48)))
    frame = hospital.frame[[STAY_ID, TIME, LABEL, LABEL_ARRIVAL]]
    LabelFeed(state, "sepsis-risk").ingest(frame[frame[LABEL_ARRIVAL] // 24 == 1], HOSPITAL_COLUMNS)
    reference = tmp_path / "ref.parquet"
    hospital.frame.drop(columns=[LABEL, LABEL_ARRIVAL]).to_parquet(reference)
    paths = {
        "reference": str(reference),
        "current": "predictions://sepsis-risk",
        "labels": "labels://sepsis-risk",
    }
    columns = {"id_column": STAY_ID, "time_column": TIME}
    _fetch(home, tmp_path / "day-0", paths, "day-0", **columns)  # no label arrived on day 0
    reads = {r.event.detail_map()["role"]: r.event for r in _reads(home)}
    assert reads["current"].target.id == "dataset/predictions/sepsis-risk"
    assert reads["labels"].target.id == "dataset/labels/sepsis-risk"
    assert reads["labels"].detail_map()["rows"] == "0"
    served = pd.read_parquet(tmp_path / "day-0" / "run" / "current")
    assert reads["current"].detail_map()["rows"] == str(len(served)) != "0"


def test_an_audit_log_that_refuses_appends_fails_the_fetch_and_leaves_no_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"

    def refuse(self: DocumentEntryStore, seq: int, data: bytes) -> bool:
        raise AuditError(REFUSED)

    monkeypatch.setattr(DocumentEntryStore, "create_if_absent", refuse)
    with pytest.raises(AuditError, match=REFUSED):
        _fetch(home, tmp_path, _tables(tmp_path))
    assert not (tmp_path / "run").exists()
    monkeypatch.undo()
    assert len(GovernedRegistry(home).audit) == 0


# -- `samdops monitor`: with --model, the signed-in user's reads --------------------------------


def test_a_role_that_may_not_read_patient_data_is_refused_before_any_file_is_read(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = staffed_registry(home)
    start = len(registry.audit)
    status, out, err = cli_in_process(
        capsys, monkeypatch, PASSWORDS["quinn"] + "\n",
        "monitor", "--reference", "absent-ref.parquet", "--current", "absent-cur.parquet",
        "--model", "pima@1", "--state", str(home), "--user", "quinn", "--password-stdin",
    )  # fmt: skip
    assert (status, out) == (2, "")
    assert err == (
        "samdops: error: user 'quinn' (roles: qa-reviewer) may not read-data; ask a user whose "
        "role grants it\n"
    )
    (denied,) = (r.event for r in registry.audit.entries(start))
    assert (denied.action, denied.outcome, denied.actor.id) == (
        Action.QUERY,
        Outcome.DENIED,
        "quinn",
    )


def test_an_audit_log_that_refuses_the_reads_fails_the_monitor_and_keeps_no_window(
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths = _tables(tmp_path)

    def refuse(self: DocumentEntryStore, seq: int, data: bytes) -> bool:
        raise AuditError(REFUSED)

    monkeypatch.setattr(DocumentEntryStore, "create_if_absent", refuse)
    status, out, err = cli_in_process(
        capsys, monkeypatch, "",
        "monitor", "--reference", paths["reference"], "--current", paths["current"],
        "--model", "pima@1", "--id-column", "x", "--state", str(home),
    )  # fmt: skip
    assert (status, out, err) == (2, "", f"samdops: error: {REFUSED}\n")
    assert not (home / "monitoring").exists()


def test_without_a_model_nothing_is_kept_and_nothing_recorded(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _tables(tmp_path)
    status, out, err = cli_in_process(
        capsys, monkeypatch, "",
        "monitor", "--reference", paths["reference"], "--current", paths["current"],
        "--state", str(home), "--json",
    )  # fmt: skip
    assert (status, err) == (0, "") and out.startswith("{")
    assert not home.exists()
