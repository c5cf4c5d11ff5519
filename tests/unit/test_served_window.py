"""A monitoring window read from the prediction log (``predictions://NAME``) and its labels from
the label feed (``labels://NAME``): the day by the rows' hour column, each row once as first
answered, refused requests skipped, a changed segment refused; the monitor watches the served
risks and checks each against the registered model's own score."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from samdops.errors import DriftInputError, VerificationError
from samdops.hospital import get_scenario, simulate_hospital
from samdops.hospital.columns import (
    CATEGORICAL_SPEC,
    ICULOS,
    LABEL,
    LABEL_ARRIVAL,
    STAY_ID,
    TIME,
)
from samdops.hospital.generator import HospitalData
from samdops.monitoring.label_feed import HOSPITAL_COLUMNS, LabelFeed
from samdops.monitoring.scoring import MonitoredModel
from samdops.monitoring.served_window import served_window, window_day
from samdops.sepsis.model import train_sepsis_model
from samdops.serving.records import prediction_record
from samdops.steps.inprocess import _Artifact as Art
from samdops.steps.monitoring import MonitorOptions, fetch_window_step, monitor_window
from samdops.store.state import StateLocation, open_state
from tests.prediction_log import (
    REQUEST_COLUMNS,
    START,
    log_records,
    record_for,
    write_records,
    write_segment,
)

MODEL = "sepsis-risk@1"


@pytest.fixture(scope="module")
def model() -> MonitoredModel:
    train = simulate_hospital(get_scenario("no_drift"), days=6, seed=36, beds=120).frame
    return train_sepsis_model(train)


@pytest.fixture(scope="module")
def hospital() -> HospitalData:
    return simulate_hospital(get_scenario("no_drift"), days=3, seed=40, beds=25)


@pytest.fixture(scope="module")
def records(hospital: HospitalData, model: MonitoredModel) -> list[dict[str, object]]:
    """The server's records of all 72 hours (scored once for the module)."""
    return log_records(hospital.frame, model.score, range(72))


@pytest.fixture
def state(tmp_path: Path) -> StateLocation:
    return open_state(tmp_path / "home")


def _hours(records: list[dict[str, object]], end: int) -> list[dict[str, object]]:
    return [r for r in records if int(str(r["request_id"])[2:]) < end]


def _options(state: StateLocation) -> MonitorOptions:
    return MonitorOptions(
        id_column=STAY_ID,
        time_column=TIME,
        admission_column=ICULOS,
        categorical=CATEGORICAL_SPEC,
        model_ref=MODEL,
        state=state.location,
    )


def _reference(tmp_path: Path) -> pd.DataFrame:
    frame = simulate_hospital(get_scenario("no_drift"), days=4, seed=37, beds=60).frame
    return frame[[*REQUEST_COLUMNS, LABEL]]


def test_the_window_is_a_day_of_the_hour_column_each_row_once_as_first_answered(
    state: StateLocation, hospital: HospitalData, records: list[dict[str, object]]
) -> None:
    write_records(state, records)
    # every record was answered within one minute (an accelerated clock): the day is the rows'
    assert {r["time"][:16] for r in records} <= {"2026-12-01T09:00", "2026-12-01T09:01"}
    window = served_window(state, "sepsis-risk", "day-1", id_column=STAY_ID, time_column=TIME)
    expected = hospital.day(1).sort_values([STAY_ID, TIME]).reset_index(drop=True)
    assert window[[STAY_ID, TIME]].values.tolist() == expected[[STAY_ID, TIME]].values.tolist()
    assert list(window.columns) == [*REQUEST_COLUMNS, "risk", "model", "request_id"]
    # an hour first answered in the request of that hour (later requests carry it again)
    assert (window["request_id"] == window[TIME].map(lambda t: f"r-{t:05d}")).all()
    pd.testing.assert_frame_equal(
        window[["HR", "Lactate"]], expected[["HR", "Lactate"]], check_dtype=False
    )
    assert window["model"].eq(MODEL).all()


def test_duplicates_keep_the_first_answer_and_refused_requests_answer_nothing(
    state: StateLocation, hospital: HospitalData
) -> None:
    rows = hospital.frame[hospital.frame[TIME].between(24, 30)].head(5)
    first = record_for("first", rows, [0.1] * 5, at=START)
    again = record_for("again", rows, [0.9] * 5, at=START + timedelta(seconds=1))
    refused_rows = hospital.frame[hospital.frame[TIME] == 40].head(3)
    refused = prediction_record(
        request_id="refused",
        answered_at=START + timedelta(seconds=2),
        model=MODEL,
        model_sha256="sha256:" + "ab" * 32,
        inputs={c: [None if pd.isna(v) else v for v in refused_rows[c]] for c in REQUEST_COLUMNS},
        refused=[{"row": 0, "field": "HR", "value": "900", "reason": "is outside"}],
    )
    write_segment(state, [again, refused])  # stored first, answered later
    write_segment(state, [first])
    window = served_window(state, "sepsis-risk", "1", id_column=STAY_ID, time_column=TIME)
    assert len(window) == 5 and window["risk"].tolist() == [0.1] * 5
    assert set(window["request_id"]) == {"first"}
    assert not window[TIME].eq(40).any()


def test_a_changed_segment_is_refused(state: StateLocation, hospital: HospitalData) -> None:
    rows = hospital.frame[hospital.frame[TIME] == 30]
    key = write_segment(state, [record_for("a", rows, [0.1] * len(rows))])
    path = Path(state.location) / key
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b'"risk":[0.1', b'"risk":[0.2', 1))
    with pytest.raises(VerificationError) as refused:
        served_window(state, "sepsis-risk", "1", id_column=STAY_ID, time_column=TIME)
    assert str(refused.value) == f"prediction segment {key} was changed after it was written"


@pytest.mark.parametrize(
    ("window", "day"), [("3", 3), ("day-3", 3), ("day_0003", 3), ("Day 12", 12), ("0004", 4)]
)
def test_window_names(window: str, day: int) -> None:
    assert window_day(window) == day


def test_a_window_that_is_not_a_day_or_holds_no_row_is_refused(
    state: StateLocation, hospital: HospitalData
) -> None:
    with pytest.raises(DriftInputError, match="holds no answered request"):
        served_window(state, "sepsis-risk", "1", id_column=STAY_ID, time_column=TIME)
    rows = hospital.frame[hospital.frame[TIME] == 30]
    write_segment(state, [record_for("a", rows, [0.1] * len(rows))])
    with pytest.raises(DriftInputError) as refused:
        served_window(state, "sepsis-risk", "day-2", id_column=STAY_ID, time_column=TIME)
    assert str(refused.value) == (
        "the prediction log of sepsis-risk holds no answered row of window day-2 (Time 48 to "
        "71); give a day the server answered"
    )
    for bad in ("2026-12-01", "day--1", "yesterday", ""):
        with pytest.raises(DriftInputError, match="is not a day of the rows' clock"):
            window_day(bad)


def _fetch(
    tmp_path: Path, state: StateLocation, window: str, labels: str = "labels://sepsis-risk"
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    reference = tmp_path / "reference.parquet"
    if not reference.exists():
        _reference(tmp_path).to_parquet(reference)
    arts = {k: Art(str(tmp_path / window / k)) for k in ("r", "c", "l")}
    resolved = fetch_window_step(
        str(reference),
        "predictions://sepsis-risk",
        labels,
        window,
        arts["r"],
        arts["c"],
        arts["l"],
        state=state.location,
        id_column=STAY_ID,
        time_column=TIME,
    )
    assert resolved == window
    return tuple(pd.read_parquet(arts[k].path) for k in ("r", "c", "l"))  # type: ignore[return-value]


def _feed_labels(state: StateLocation, hospital: HospitalData) -> None:
    frame = hospital.frame[[STAY_ID, TIME, LABEL, LABEL_ARRIVAL]]
    feed = LabelFeed(state, "sepsis-risk")
    for day in (1, 2):
        feed.ingest(frame[frame[LABEL_ARRIVAL] // 24 == day], HOSPITAL_COLUMNS)


def test_the_fetch_step_takes_the_log_and_the_labels_that_arrived_that_day(
    tmp_path: Path, state: StateLocation, hospital: HospitalData, records: list[dict[str, object]]
) -> None:
    write_records(state, records)
    _feed_labels(state, hospital)
    _, current, labels = _fetch(tmp_path, state, "day-2")
    assert current[TIME].between(48, 71).all() and "risk" in current.columns
    arrived = hospital.frame[hospital.frame[LABEL_ARRIVAL] // 24 == 2]
    assert len(labels) == len(arrived) and labels[LABEL_ARRIVAL].between(48, 71).all()
    assert list(labels.columns) == [STAY_ID, TIME, LABEL, LABEL_ARRIVAL]
    _, _, none_yet = _fetch(tmp_path, state, "0")  # nothing arrives on the first day
    assert none_yet.empty


@pytest.mark.parametrize(
    ("reference", "current", "labels", "what"),
    [
        ("predictions://sepsis-risk", "c.csv", "", "reference"),
        ("r.csv", "labels://sepsis-risk", "", "current window"),
        ("r.csv", "c.csv", "predictions://sepsis-risk", "labels"),
    ],
)
def test_a_feed_in_the_wrong_place_is_refused(
    tmp_path: Path, reference: str, current: str, labels: str, what: str
) -> None:
    arts = [Art(str(tmp_path / k)) for k in "rcl"]
    with pytest.raises(DriftInputError, match=f"the {what} cannot be "):
        fetch_window_step(reference, current, labels, "1", *arts, state=str(tmp_path))


def test_the_monitor_watches_the_served_risks_and_they_are_the_models_own(
    tmp_path: Path,
    state: StateLocation,
    hospital: HospitalData,
    model: MonitoredModel,
    records: list[dict[str, object]],
) -> None:
    write_records(state, records)
    _feed_labels(state, hospital)
    reference, current, labels = _fetch(tmp_path, state, "day-1")
    done = monitor_window(reference, current, labels, "day-1", _options(state), model)
    served = done.document["served"]
    assert served == {
        "model": MODEL,
        "rows": len(current),
        "differ": 0,
        "max_difference": 0.0,
        "first": None,
    }
    assert not any(a.kind == "served_scores" for a in done.alerts)
    untested = set(done.document["data_drift"]["untested_columns"])
    assert not {"risk", "model", "request_id"} & untested
    # the scores kept for the late labels are the served ones
    scored = pd.concat(
        pd.read_parquet(p)
        for p in (Path(state.location) / "monitoring").rglob("scored/day-1/*.parquet")
    )
    joined = scored.merge(current, on=[STAY_ID, TIME])
    assert (joined["score"] == joined["risk"]).all()
    # the labels that arrive on day 2 (24-72 h late) join the hours day 1 was served with
    reference, current2, labels2 = _fetch(tmp_path, state, "day-2")
    later = monitor_window(reference, current2, labels2, "day-2", _options(state), model)
    assert later.document["served"]["differ"] == 0
    assert later.performance is not None and later.performance["sequential"] is not None
    (arrived,) = (Path(state.location) / "monitoring").rglob("arrived/day-2/*.parquet")
    joined = pd.read_parquet(arrived).merge(current, on=[STAY_ID, TIME])
    assert len(joined) and (joined["score"] == joined["risk"]).all()


def test_a_served_risk_that_is_not_the_models_own_is_a_critical_alert(
    tmp_path: Path, state: StateLocation, model: MonitoredModel, records: list[dict[str, object]]
) -> None:
    write_records(state, _hours(records, 48))
    reference, current, labels = _fetch(tmp_path, state, "day-1", labels="")
    changed = current.copy()
    row = changed.index[10]
    changed.loc[row, "risk"] = changed.loc[row, "risk"] + 0.25
    done = monitor_window(reference, changed, labels, "day-1", _options(state), model)
    served = done.document["served"]
    assert served["differ"] == 1 and served["max_difference"] == pytest.approx(0.25)
    assert served["first"].startswith(
        f"patient_id {changed.loc[row, STAY_ID]} Time {changed.loc[row, TIME]}: served "
    )
    (alert,) = [a for a in done.alerts if a.kind == "served_scores"]
    assert alert.severity == "critical" and alert.model == MODEL
    assert alert.evidence[0].startswith(f"1 of {len(changed)} served risks differ from {MODEL}'s")
    findings = json.loads(json.dumps(done.document, default=str))
    assert findings["served"]["differ"] == 1


def test_a_window_served_by_another_version_is_refused(
    tmp_path: Path, state: StateLocation, model: MonitoredModel, records: list[dict[str, object]]
) -> None:
    write_records(state, [{**r, "model": "sepsis-risk@2"} for r in _hours(records, 48)])
    reference, current, labels = _fetch(tmp_path, state, "day-1", labels="")
    with pytest.raises(DriftInputError) as refused:
        monitor_window(reference, current, labels, "day-1", _options(state), model)
    assert str(refused.value) == (
        f"window day-1 was answered by sepsis-risk@2 ({len(current)} rows), not all by the "
        "monitored model sepsis-risk@1; monitor the version that served it (model_ref)"
    )
