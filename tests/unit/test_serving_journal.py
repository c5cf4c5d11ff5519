"""The prediction journal: durable before the answer, group commit, segments, recovery, and the
prediction log it uploads to the state location."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from samdops.errors import ConfigError, VerificationError
from samdops.serving.journal import Journal
from samdops.serving.records import (
    answered_rows,
    encode,
    prediction_record,
    read_prediction_log,
    segment_key,
)
from samdops.store.state import StateLocation, open_state

MODEL = "pima-diabetes-onset"
AT = datetime(2026, 12, 4, 3, 59, 59, tzinfo=UTC)


def record(n: int, at: datetime = AT, *, refused: bool = False) -> dict[str, object]:
    return prediction_record(
        request_id=f"r{n}",
        answered_at=at,
        model=f"{MODEL}@1",
        model_sha256="sha256:" + "ab" * 32,
        inputs={"Glucose": [100 + n], "BMI": [0.1 + n]},
        risk=[] if refused else [n / 1000],
        alert=[] if refused else [False],
        refused=[{"row": 0, "field": "Glucose", "value": "950", "reason": "x"}] if refused else [],
    )


class Clock:
    def __init__(self, at: datetime) -> None:
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def state(tmp_path: Path) -> StateLocation:
    return open_state(tmp_path / "state")


def journal(tmp_path: Path, state: StateLocation, **options: object) -> Journal:
    return Journal(tmp_path / "journal", state, MODEL, **options)  # type: ignore[arg-type]


def commit(j: Journal, *records: dict[str, object]) -> None:
    """Commit ``records`` one after another, as the server's event loop does."""

    async def each() -> None:
        for r in records:
            await j.commit(r)

    asyncio.run(each())


def test_a_committed_record_is_on_disk_when_commit_returns(
    tmp_path: Path, state: StateLocation
) -> None:
    j = journal(tmp_path, state, upload_every=3600, max_age=3600)
    j.open()
    commit(j, record(1))
    (active,) = (tmp_path / "journal" / "active").glob("*.jsonl")
    assert json.loads(active.read_bytes())["request_id"] == "r1"
    j.close()


def test_concurrent_commits_share_fsyncs_and_none_is_lost(
    tmp_path: Path, state: StateLocation
) -> None:
    j = journal(tmp_path, state, upload_every=3600, max_age=3600)
    j.open()

    async def clients() -> None:  # 8 clients, 50 requests each, all waiting at once
        await asyncio.gather(*(j.commit(record(k * 100 + i)) for k in range(8) for i in range(50)))

    asyncio.run(clients())
    assert j.committed == 400
    assert j.commits < 400  # group commit: one fsync covered several records
    j.close()
    ids = [r["request_id"] for r in read_prediction_log(state, MODEL)]
    assert sorted(ids) == sorted(f"r{k * 100 + i}" for k in range(8) for i in range(50))


def test_a_full_segment_is_sealed_and_uploaded_under_its_hour_by_its_digest(
    tmp_path: Path, state: StateLocation
) -> None:
    j = journal(tmp_path, state, max_records=3, upload_every=3600, max_age=3600)
    j.open()
    commit(j, *(record(n) for n in range(7)))
    j.close()
    hour = state.documents.names(f"predictions/{MODEL}")
    assert hour == ["2026-12-04T03/"]
    names = state.documents.names(f"predictions/{MODEL}/2026-12-04T03")
    assert len(names) == 3  # 3 + 3 + 1 records
    for name in names:
        data = state.documents.read(f"predictions/{MODEL}/2026-12-04T03/{name}")
        assert data is not None
        assert segment_key(MODEL, json.loads(data.splitlines()[0])["time"], data).endswith(name)
    assert not list((tmp_path / "journal" / "sealed").glob("*"))


def test_a_segment_holds_the_records_of_one_hour(tmp_path: Path, state: StateLocation) -> None:
    clock = Clock(AT)
    j = journal(tmp_path, state, upload_every=3600, max_age=3600, clock=clock)
    j.open()
    commit(j, record(1))
    clock.now += 2
    commit(j, record(2, AT + timedelta(seconds=2)))
    j.close()
    assert state.documents.names(f"predictions/{MODEL}") == ["2026-12-04T03/", "2026-12-04T04/"]


def test_recovery_cuts_a_torn_record_and_uploads_the_rest_exactly_once(
    tmp_path: Path, state: StateLocation
) -> None:
    active = tmp_path / "journal" / "active"
    active.mkdir(parents=True)
    whole = encode(record(1)) + encode(record(2))
    (active / "000000000007.jsonl").write_bytes(whole + encode(record(3))[:40])
    j = journal(tmp_path, state)
    assert j.open() == 2
    j.close()
    assert [r["request_id"] for r in read_prediction_log(state, MODEL)] == ["r1", "r2"]
    # the same segment uploaded again (a crash after the upload, before the delete) is one
    sealed = tmp_path / "journal" / "sealed"
    (sealed / "000000000007.jsonl").write_bytes(whole)
    j2 = journal(tmp_path, state)
    j2.open()
    j2.close()
    assert [r["request_id"] for r in read_prediction_log(state, MODEL)] == ["r1", "r2"]


def test_two_servers_cannot_share_one_journal(tmp_path: Path, state: StateLocation) -> None:
    first = journal(tmp_path, state)
    first.open()
    with pytest.raises(ConfigError) as caught:
        journal(tmp_path, state).open()
    assert str(caught.value) == (
        f"another server uses the journal {tmp_path / 'journal'}; give each server its own"
    )
    first.close()


def _write_segment(state: StateLocation, *records: dict[str, object]) -> str:
    data = b"".join(encode(r) for r in records)
    key = segment_key(MODEL, str(records[0]["time"]), data)
    assert state.documents.create(key, data)
    return key


def test_the_log_is_read_by_time_window_and_answered_rows_skip_refusals(
    state: StateLocation,
) -> None:
    _write_segment(state, record(1), record(2, refused=True))
    _write_segment(state, record(3, AT + timedelta(hours=2)))
    everything = read_prediction_log(state, MODEL)
    assert [r["request_id"] for r in everything] == ["r1", "r2", "r3"]
    later = read_prediction_log(state, MODEL, since=AT + timedelta(hours=1))
    assert [r["request_id"] for r in later] == ["r3"]
    rows = answered_rows(everything)
    assert rows["request_id"].tolist() == ["r1", "r3"]
    assert rows["Glucose"].tolist() == [101, 103]
    assert rows["risk"].tolist() == [0.001, 0.003]
    assert answered_rows([]).empty


@pytest.mark.hostile
def test_a_changed_segment_is_refused(state: StateLocation) -> None:
    key = _write_segment(state, record(1))
    path = state.directory / key  # type: ignore[operator]
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b"r1", b"r9"))
    with pytest.raises(VerificationError) as caught:
        read_prediction_log(state, MODEL)
    assert str(caught.value) == f"prediction segment {key} was changed after it was written"


def test_records_keep_floats_bit_for_bit_and_refused_values_as_sent() -> None:
    value = 0.1 + 0.2
    line = encode(
        prediction_record(
            request_id="r",
            answered_at=AT,
            model="m@1",
            model_sha256="sha256:" + "00" * 32,
            inputs={"x": [value, None, float("nan"), "abc", float("inf")]},
            risk=[value],
        )
    )
    back = json.loads(line)
    assert back["inputs"]["x"] == [value, None, None, "abc", "inf"]
    assert back["outputs"]["risk"][0] == value
