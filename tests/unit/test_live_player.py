"""`samdops simulate hospital --live URL`: the simulated ICU played hour by hour against a model
server (here a small fake one in a thread that checks each request's shape), each stay with its
hours so far, labels into the feed as they are confirmed, nothing retried."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from samdops.hospital import get_scenario, simulate_hospital
from samdops.hospital.columns import LABEL_ARRIVAL, STAY_ID, TIME
from samdops.hospital.generator import HospitalData
from samdops.hospital.live import ServerAnswered, play_live
from samdops.monitoring.label_feed import LabelFeed
from tests.cli_helpers import cli_in_process
from tests.prediction_log import REQUEST_COLUMNS

Answer = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


def _risks(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    n = body["inputs"][0]["shape"][0]
    return 200, {
        "model_name": "sepsis-risk",
        "id": body["id"],
        "outputs": [
            {"name": "risk", "shape": [n], "datatype": "FP64", "data": [0.01] * n},
            {"name": "alert", "shape": [n], "datatype": "BOOL", "data": [False] * n},
        ],
    }


class FakeServer:
    """An OIP v2 endpoint that records each request (and what the label feed held then)."""

    def __init__(self, state: Path, answer: Answer = _risks) -> None:
        self.requests: list[tuple[str, dict[str, Any], int]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stored = len(list((state / "labels").rglob("*.parquet")))
                fake.requests.append((self.path, body, stored))
                status, document = fake.answer(body)
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.answer = answer
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FakeServer]:
    fake = FakeServer(tmp_path / "state")
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def hospital() -> HospitalData:
    return simulate_hospital(get_scenario("no_drift"), days=3, seed=3, beds=6)


def _rows(body: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({i["name"]: i["data"] for i in body["inputs"]})


def _expected(frame: pd.DataFrame, hour: int) -> list[list[int]]:
    active = frame.loc[frame[TIME] == hour, STAY_ID]
    rows = frame[frame[STAY_ID].isin(active) & (frame[TIME] <= hour)]
    return rows.sort_values([STAY_ID, TIME])[[STAY_ID, TIME]].values.tolist()


def _play(hospital: HospitalData, url: str, state: Path, **kwargs: Any) -> Any:
    return play_live(
        hospital,
        url,
        model_name="sepsis-risk",
        columns=REQUEST_COLUMNS,
        feed=LabelFeed(state, "sepsis-risk"),
        request_prefix="t",
        **kwargs,
    )


def test_each_hour_sends_every_active_stay_with_its_hours_so_far(
    server: FakeServer, hospital: HospitalData, tmp_path: Path
) -> None:
    played = _play(hospital, server.url, tmp_path / "state")
    frame = hospital.frame
    hours = sorted(frame[TIME].unique().tolist())
    assert (played.hours, played.requests) == (72, len(hours))
    assert played.rows == sum(len(b["inputs"][0]["data"]) for _, b, _ in server.requests)
    values = frame.set_index([STAY_ID, TIME])
    for (path, body, _), hour in zip(server.requests, hours, strict=True):
        assert path == "/v2/models/sepsis-risk/infer"
        assert body["id"] == f"t-h{hour:05d}-0"
        assert [i["name"] for i in body["inputs"]] == list(REQUEST_COLUMNS)
        n = len(body["inputs"][0]["data"])
        assert all(i["shape"] == [n] and i["datatype"] == "FP64" for i in body["inputs"])
        sent = _rows(body)
        assert sent[[STAY_ID, TIME]].values.tolist() == _expected(frame, hour)
        # values as simulated; a missing value is null
        sent_hr = next(i["data"] for i in body["inputs"] if i["name"] == "HR")
        true_hr = values.loc[list(zip(sent[STAY_ID], sent[TIME], strict=True)), "HR"].tolist()
        assert [None if pd.isna(v) else v for v in true_hr] == sent_hr


def test_labels_go_into_the_feed_in_the_hour_they_are_confirmed(
    server: FakeServer, hospital: HospitalData, tmp_path: Path
) -> None:
    played = _play(hospital, server.url, tmp_path / "state")
    frame = hospital.frame
    confirmed = frame[frame[LABEL_ARRIVAL] < 72]
    assert played.labels == len(confirmed)
    feed = LabelFeed(tmp_path / "state", "sepsis-risk")
    stored = feed.labels()
    assert stored[[STAY_ID, TIME]].values.tolist() == (
        confirmed.sort_values([STAY_ID, TIME])[[STAY_ID, TIME]].values.tolist()
    )
    batches = feed.batches()
    assert all(b[LABEL_ARRIVAL].nunique() == 1 for _, b in batches)  # one batch per hour
    assert len(batches) == confirmed[LABEL_ARRIVAL].nunique()
    # the request of hour h went out after the labels of hours before h, before those of h
    arrivals = confirmed[LABEL_ARRIVAL].drop_duplicates()
    for _, body, stored_then in server.requests:
        hour = int(body["id"].split("-h")[1][:5])
        assert stored_then == int((arrivals < hour).sum())


def test_large_hours_are_split_by_stays(
    server: FakeServer, hospital: HospitalData, tmp_path: Path
) -> None:
    played = _play(hospital, server.url, tmp_path / "state", max_rows=60)
    by_hour: dict[int, list[dict[str, Any]]] = {}
    for _, body, _ in server.requests:
        assert len(body["inputs"][0]["data"]) <= 60
        by_hour.setdefault(int(body["id"].split("-h")[1][:5]), []).append(body)
    assert played.requests == len(server.requests) > len(by_hour)
    for hour, bodies in by_hour.items():
        assert [b["id"] for b in bodies] == [f"t-h{hour:05d}-{i}" for i in range(len(bodies))]
        parts = [_rows(b) for b in bodies]
        stays = [set(p[STAY_ID]) for p in parts]
        assert sum(len(s) for s in stays) == len(set().union(*stays))  # a stay in one request
        both = pd.concat(parts).sort_values([STAY_ID, TIME])
        assert both[[STAY_ID, TIME]].values.tolist() == _expected(hospital.frame, hour)


def test_an_answer_other_than_200_or_422_stops_the_play_naming_the_hour_and_the_message(
    hospital: HospitalData, tmp_path: Path
) -> None:
    def retire_at_hour_30(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "-h00030-" in body["id"]:
            return 503, {"error": "sepsis-risk@1 is retired (recall); it is no longer served"}
        return _risks(body)

    fake = FakeServer(tmp_path / "state", retire_at_hour_30)
    try:
        with pytest.raises(ServerAnswered) as stopped:
            _play(hospital, fake.url, tmp_path / "state")
    finally:
        fake.stop()
    n = len(_expected(hospital.frame, 30))
    assert str(stopped.value) == (
        f"the model server answered HTTP 503 to hour 30 (request t-h00030-0, {n} rows): "
        "sepsis-risk@1 is retired (recall); it is no longer served; the play stopped there "
        "(nothing is retried)"
    )
    assert fake.requests[-1][1]["id"] == "t-h00030-0"  # sent once, and nothing after it
    arrived = LabelFeed(tmp_path / "state", "sepsis-risk").labels()
    assert arrived[LABEL_ARRIVAL].max() < 30


def test_a_stay_refused_at_the_door_is_sent_alone_and_the_others_stay_scored(
    hospital: HospitalData, tmp_path: Path
) -> None:
    """Stay S has a value outside the contract at hour 30: every request that carries that
    hour is refused (422); the batch of hour 30 is sent again stay by stay, and S alone from
    then on, so every other stay's hours are answered."""
    frame = hospital.frame
    bad = int(frame.loc[frame[TIME] == 30, STAY_ID].iloc[0])

    def refuse_bad_stay(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        rows = _rows(body)
        if ((rows[STAY_ID] == bad) & (rows[TIME] >= 30)).any():
            return 422, {"error": "row 3: Lactate = 40 is outside the valid range [0.1, 35]"}
        return _risks(body)

    fake = FakeServer(tmp_path / "state", refuse_bad_stay)
    try:
        played = _play(hospital, fake.url, tmp_path / "state")
    finally:
        fake.stop()
    bad_hours = frame.loc[(frame[STAY_ID] == bad) & (frame[TIME] >= 30), TIME]
    assert played.refused == len(bad_hours)
    answered = {
        (int(i), int(t))
        for _, body, _ in fake.requests
        if refuse_bad_stay(body)[0] == 200
        for i, t in _rows(body)[[STAY_ID, TIME]].itertuples(index=False)
    }
    good = frame[(frame[STAY_ID] != bad) | (frame[TIME] < 30)]
    assert {(int(i), int(t)) for i, t in good[[STAY_ID, TIME]].itertuples(index=False)} <= answered
    alone = [body["id"] for _, body, _ in fake.requests if body["id"].endswith(f"-s{bad}")]
    assert alone[0] == f"t-h00030-s{bad}"
    assert len(alone) == len(bad_hours)  # after hour 30 never in a batch again


def test_an_answer_without_a_risk_per_row_stops_the_play(
    hospital: HospitalData, tmp_path: Path
) -> None:
    fake = FakeServer(tmp_path / "state", lambda body: (200, {"outputs": []}))
    try:
        with pytest.raises(ServerAnswered, match=r"answer to hour 0 \(request t-h00000-0, "):
            _play(hospital, fake.url, tmp_path / "state")
    finally:
        fake.stop()


def test_an_unreachable_server_is_named_without_its_credentials(
    hospital: HospitalData, tmp_path: Path
) -> None:
    fake = FakeServer(tmp_path / "state")
    port = fake.server.server_address[1]
    fake.stop()  # nothing listens there now
    with pytest.raises(ServerAnswered) as stopped:
        _play(hospital, f"http://ops:s3cret@127.0.0.1:{port}", tmp_path / "state")
    message = str(stopped.value)
    assert message.startswith(f"cannot reach the model server at http://127.0.0.1:{port} in hour 0")
    assert "s3cret" not in message and message.endswith("(nothing is retried)")


def test_the_speed_paces_the_hours_on_the_clock(hospital: HospitalData, tmp_path: Path) -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    def post(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        now[0] += 0.1  # each answer takes 0.1 s
        return _risks(json.loads(body))[0], json.dumps(_risks(json.loads(body))[1]).encode()

    played = _play(
        hospital, "http://127.0.0.1:1", tmp_path / "state", speed=4.0, post=post,
        sleep=sleep, clock=lambda: now[0],
    )  # fmt: skip
    assert played.seconds == pytest.approx(71 / 4 + 0.1, abs=0.01)  # hour 71 starts at 17.75 s
    assert len(slept) == 71 and all(s > 0 for s in slept)


# -- the command --------------------------------------------------------------------------------


def test_simulate_hospital_live_prints_one_summary_line(
    server: FakeServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = ("simulate", "hospital", "--days", "1", "--seed", "2", "--beds", "4")
    live = ("--live", server.url, "--speed", "0", "--state", str(tmp_path / "state"))
    status, out, err = cli_in_process(capsys, monkeypatch, "", *argv, *live)
    assert (status, err) == (0, "")
    assert re.fullmatch(
        r"played 24 hours: \d+ requests, \d+ rows, 0 single-stay requests refused at the "
        r"door, 0 labels ingested, \d+\.\d s\n",
        out,
    )
    assert out.split()[3] == f"{len(server.requests)}"
    status, out, _ = cli_in_process(
        capsys, monkeypatch, "", *argv, *live, "--out", str(tmp_path / "icu")
    )
    assert status == 0 and out.splitlines()[0].startswith("wrote 3 files")


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ((), "samdops: error: give --out DIR (daily files), --live URL (play against a server) "
         "or both\n"),
        (("--live", "file:///etc/passwd"), "samdops: error: --live file:///etc/passwd is not the "
         "base URL of a model server; give http://HOST:PORT\n"),
        (("--live", "http://x", "--speed", "-1"), "samdops simulate hospital: error: argument "
         "--speed: must be 0 or more hours per second; got '-1'; see `samdops simulate hospital "
         "--help`\n"),
        (("--live", "http://x", "--speed", "nan"), "samdops simulate hospital: error: argument "
         "--speed: must be 0 or more hours per second; got 'nan'; see `samdops simulate hospital "
         "--help`\n"),
    ],
)  # fmt: skip
def test_simulate_hospital_refuses_what_it_cannot_play(
    extra: tuple[str, ...],
    error: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = ("simulate", "hospital", "--days", "1", "--seed", "2", "--beds", "4", *extra)
    try:
        status, out, err = cli_in_process(capsys, monkeypatch, "", *argv)
    except SystemExit as exc:  # argparse's usage errors exit
        status, (out, err) = int(str(exc.code)), capsys.readouterr()
    assert (status, out, err) == (2, "", error)
