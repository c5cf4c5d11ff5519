"""The model server in the serving environment: the gate at start, the door, every answer on
the record, retirement, rollout under load, SIGKILL under load, and served scores equal to the
batch scores to the last bit."""

from __future__ import annotations

import collections
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests

from samdops.governance.lifecycle import State
from samdops.governance.service import GovernedRegistry
from samdops.hospital import get_scenario, simulate_hospital
from samdops.hospital.columns import LABEL, LABEL_ARRIVAL, STAY_ID, TIME
from samdops.monitoring.registered_model import load_registered_model
from samdops.serving.door import request_columns
from samdops.serving.records import read_prediction_log
from tests.conftest import PIMA_CSV
from tests.serving_helpers import (
    PIMA,
    SEPSIS,
    STAFF,
    Server,
    register_sepsis,
    release,
    released_home,
    released_sepsis_home,
    staff,
)


@pytest.fixture(scope="module")
def pima_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return released_home(tmp_path_factory.mktemp("pima"))


@pytest.fixture(scope="module")
def sepsis_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return released_sepsis_home(tmp_path_factory.mktemp("sepsis"))


@pytest.fixture
def sepsis(sepsis_home: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(sepsis_home, tmp_path / "home"))


def _columns(frame: pd.DataFrame) -> dict[str, list[Any]]:
    return {c: [None if pd.isna(v) else v for v in frame[c].tolist()] for c in frame.columns}


def _hospital(days: int = 2, seed: int = 9, beds: int = 8) -> pd.DataFrame:
    frame = simulate_hospital(get_scenario("no_drift"), days=days, seed=seed, beds=beds).frame
    return frame.drop(columns=[LABEL, LABEL_ARRIVAL])


def _hour_request(frame: pd.DataFrame, hour: int, columns: tuple[str, ...]) -> pd.DataFrame:
    """Every stay with a row at ``hour``, with its hours so far (what the EHR sends)."""
    stays = frame.loc[frame[TIME] == hour, STAY_ID].unique()
    rows = frame[frame[STAY_ID].isin(stays) & (frame[TIME] <= hour)]
    return rows.loc[:, list(columns)]


def test_a_model_that_is_not_released_does_not_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    governed = GovernedRegistry(home, sinks=[])
    staff(governed)
    ref = register_sepsis(governed)
    result = subprocess.run(
        [".venv/bin/samdops", "serve", ref, "--state", str(home), "--port", "18999"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"samdops serve: error: {ref} is validated, not released: only a released model is served"
    )


def test_pima_answers_equal_the_batch_scores_and_every_request_is_on_the_record(
    pima_home: Path, tmp_path: Path
) -> None:
    home = Path(shutil.copytree(pima_home, tmp_path / "home"))
    rows = pd.read_csv(PIMA_CSV).drop(columns=["Outcome"]).head(40)
    server = Server(home, PIMA, tmp_path / "journal").start()
    try:
        served = []
        for n, chunk in enumerate(np.array_split(rows, 4)):
            answer = server.infer(_columns(chunk), f"pima-{n}")
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["model_version"] == "1"
            assert body["parameters"]["model"] == f"{PIMA}@1"
            served += body["outputs"][0]["data"]
        bad = _columns(rows.head(1)) | {"Glucose": [950]}
        refused = server.infer(bad, "pima-bad")
        assert refused.status_code == 422
        assert refused.json()["error"] == (
            "row 0: Glucose = 950 is outside the valid range [20, 600] mg/dL"
        )
        metrics = requests.get(f"{server.url}/metrics", timeout=5).text
        hostile = _hostile_requests(server, _columns(rows.head(1)))
    finally:
        server.stop()
    monitored = load_registered_model(GovernedRegistry(home, sinks=[]), f"{PIMA}@1")
    batch = monitored.score(rows)
    assert np.array_equal(np.asarray(served).view(np.int64), batch.view(np.int64))
    labels = f'model_name="{PIMA}",outcome="answered",version="1"'
    assert f"samdops_requests_total{{{labels}}} 4.0" in metrics
    assert f'samdops_refused_rows_total{{model_name="{PIMA}"}} 1.0' in metrics
    assert f'samdops_model_served{{model_name="{PIMA}",sha256=' in metrics
    assert "request_predict_seconds_bucket" in metrics  # KServe's own
    assert "samdops_request_seconds_bucket" in metrics
    records = read_prediction_log(GovernedRegistry(home, sinks=[]).state, PIMA)
    assert [(r["request_id"], r["outcome"]) for r in records] == [
        *((f"pima-{n}", "answered") for n in range(4)),
        ("pima-bad", "refused"),
        ("hostile", "refused"),
        ("hostile", "refused"),
    ]
    assert records[4]["refused"][0]["field"] == "Glucose"
    assert records[-1]["refused"][0]["reason"].startswith("missing input(s) Age")
    assert hostile == [
        (400, "not JSON"),
        (422, "row 0: Age = 'forty' is not a number (the contract's integer)"),
        (
            422,
            "missing input(s) Age; contract pima-diabetes v1 takes: Pregnancies, Glucose, "
            "BloodPressure, SkinThickness, Insulin, BMI, DiabetesPedigreeFunction, Age",
        ),
        (404, "unknown model"),
    ]
    log = server.log.read_text()
    assert "950" not in log and "33.6" not in log  # patient data stays out of the log


def _hostile_requests(server: Server, row: dict[str, list[Any]]) -> list[tuple[int, str]]:
    """What a careless or hostile client sends: each answer's status and error (in short)."""
    url = f"{server.url}/v2/models/{server.name}/infer"
    out = []
    garbage = requests.post(url, data=b"{not json", timeout=10)
    out.append((garbage.status_code, "not JSON"))
    for columns in (row | {"Age": ["forty"]}, {k: v for k, v in row.items() if k != "Age"}):
        answer = server.infer(columns, "hostile")
        out.append((answer.status_code, answer.json()["error"]))
    other = requests.post(f"{server.url}/v2/models/other/infer", json={"inputs": []}, timeout=10)
    out.append((other.status_code, "unknown model"))
    return out


def test_sepsis_scores_served_hour_by_hour_equal_the_batch_scores_to_the_last_bit(
    sepsis: Path, tmp_path: Path
) -> None:
    frame = _hospital()
    monitored = load_registered_model(GovernedRegistry(sepsis, sinks=[]), f"{SEPSIS}@1")
    columns = request_columns(monitored.config.contract)
    server = Server(sepsis, SEPSIS, tmp_path / "journal").start()
    served: dict[tuple[int, int], float] = {}
    try:
        for hour in sorted(frame[TIME].unique()):
            request = _hour_request(frame, int(hour), columns)
            answer = server.infer(_columns(request), f"hour-{hour}")
            assert answer.status_code == 200, answer.text
            risk = answer.json()["outputs"][0]["data"]
            for (stay, at), value in zip(
                zip(request[STAY_ID], request[TIME], strict=True), risk, strict=True
            ):
                if at == hour:
                    served[(int(stay), int(at))] = value
    finally:
        server.stop()
    batch = pd.Series(
        monitored.score(frame), index=pd.MultiIndex.from_arrays([frame[STAY_ID], frame[TIME]])
    )
    keys = sorted(served)
    assert len(keys) == len(frame)
    got = np.array([served[k] for k in keys])
    want = np.array([batch[k] for k in keys])
    assert np.array_equal(got.view(np.int64), want.view(np.int64))


def test_a_model_retired_while_served_answers_503_with_the_reason(
    sepsis: Path, tmp_path: Path
) -> None:
    row = _columns(_hour_request(_hospital(days=1, beds=2), 0, _sepsis_columns(sepsis)))
    server = Server(sepsis, f"{SEPSIS}@1", tmp_path / "journal").start()
    try:
        assert server.infer(row, "before").status_code == 200
        GovernedRegistry(sepsis, sinks=[]).transition(
            f"{SEPSIS}@1", State.RETIRED, "max", STAFF["max"][2], reason="field safety notice"
        )
        retired_at = time.monotonic()
        while (answer := server.infer(row, "after")).status_code == 200:
            assert time.monotonic() - retired_at < 60, "still answering a minute after retiring"
            time.sleep(0.2)
        assert answer.status_code == 503
        assert answer.json() == {
            "error": f"{SEPSIS}@1 is retired (field safety notice); it is no longer served"
        }
    finally:
        server.stop()


def _sepsis_columns(home: Path) -> tuple[str, ...]:
    monitored = load_registered_model(GovernedRegistry(home, sinks=[]), f"{SEPSIS}@1")
    return request_columns(monitored.config.contract)


class Load:
    """``clients`` threads sending one-stay requests until stopped; what each got back."""

    def __init__(self, server: Server, row: dict[str, list[Any]], clients: int = 8) -> None:
        self.server, self.row = server, row
        self.answers: list[tuple[str, int, str | None]] = []  # request id, status, version
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._client, args=(k,), daemon=True) for k in range(clients)
        ]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _client(self, k: int) -> None:
        n = 0
        while not self._stop.is_set():
            request_id = f"c{k}-{n}"
            n += 1
            try:
                answer = self.server.infer(self.row, request_id, timeout=10)
            except requests.RequestException as exc:
                with self._lock:
                    self.errors.append(type(exc).__name__)
                continue
            version = answer.json().get("model_version") if answer.status_code == 200 else None
            with self._lock:
                self.answers.append((request_id, answer.status_code, version))


def test_a_new_release_replaces_the_served_version_under_load_with_no_error(
    sepsis: Path, tmp_path: Path
) -> None:
    row = _columns(_hour_request(_hospital(days=1, beds=2), 0, _sepsis_columns(sepsis)))
    server = Server(sepsis, SEPSIS, tmp_path / "journal").start()
    try:
        with Load(server, row, clients=4) as load:
            time.sleep(1.0)
            governed = GovernedRegistry(sepsis, sinks=[])
            release(governed, register_sepsis(governed, seed=11))
            deadline = time.monotonic() + 60
            while not any(v == "2" for _, _, v in list(load.answers)):
                assert time.monotonic() < deadline, "version 2 never answered"
                time.sleep(0.2)
            time.sleep(1.0)
    finally:
        server.stop()
    assert load.errors == []
    assert {status for _, status, _ in load.answers} == {200}
    versions = collections.Counter(v for _, _, v in load.answers)
    assert set(versions) == {"1", "2"}
    records = {
        r["request_id"]: r["model"]
        for r in read_prediction_log(GovernedRegistry(sepsis, sinks=[]).state, SEPSIS)
    }
    for request_id, _, version in load.answers:
        assert records[request_id] == f"{SEPSIS}@{version}"


def test_after_sigkill_under_load_every_answered_request_has_exactly_one_record(
    sepsis: Path, tmp_path: Path
) -> None:
    row = _columns(_hour_request(_hospital(days=1, beds=2), 0, _sepsis_columns(sepsis)))
    journal = tmp_path / "journal"
    server = Server(sepsis, SEPSIS, journal).start()
    with Load(server, row, clients=8) as load:
        time.sleep(3.0)
        server.kill()
    answered = [request_id for request_id, status, _ in load.answers if status == 200]
    assert answered, "nothing was answered before the kill"
    Server(sepsis, SEPSIS, journal).start().stop()  # recovery uploads what the journal held
    records = collections.Counter(
        r["request_id"]
        for r in read_prediction_log(GovernedRegistry(sepsis, sinks=[]).state, SEPSIS)
    )
    assert [rid for rid in answered if records[rid] != 1] == []
    assert max(records.values()) == 1
    sent = len(load.answers) + len(load.errors)
    print(
        f"sigkill under load: {sent} requests sent, {len(answered)} answered 200, "
        f"{len(records)} records after restart, 0 of the answered lost"
    )
