"""The prediction log: one record per request a server answered or refused.

A record holds the request id, the time it was answered (UTC), the model ``name@version`` and
its sha256, the inputs, the outputs (risk and alert per row) or the refused rows. Records hold
patient data: they are written to the server's journal and then to the state location only,
never to a log.

In the state location the log is a set of write-once segments, each a JSON-lines file named by
its own sha256 under the hour (UTC) its first record was answered in:
``predictions/<model name>/<YYYY-MM-DDTHH>/<sha256 hex>.jsonl``. The hour folders are the
index; a segment uploaded twice is one document, so a record is never counted twice.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from samdops.errors import StoreError, VerificationError
from samdops.store.state import StateLocation

SCHEMA = "samdops.prediction/v1"
PREFIX = "predictions"
ANSWERED = "answered"
REFUSED = "refused"
_HOUR = "%Y-%m-%dT%H"


def prediction_record(
    *,
    request_id: str,
    answered_at: datetime,
    model: str,
    model_sha256: str,
    inputs: Mapping[str, Sequence[Any]],
    risk: Sequence[float] = (),
    alert: Sequence[bool] = (),
    refused: Sequence[Mapping[str, object]] = (),
) -> dict[str, Any]:
    """One record (``refused`` empty: the request was answered)."""
    return {
        "schema": SCHEMA,
        "request_id": request_id,
        "time": answered_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "model": model,
        "model_sha256": model_sha256,
        "outcome": REFUSED if refused else ANSWERED,
        "inputs": {name: [_json_number(v) for v in values] for name, values in inputs.items()},
        "outputs": {"risk": [float(r) for r in risk], "alert": [bool(a) for a in alert]},
        "refused": [dict(r) for r in refused],
    }


def encode(record: Mapping[str, Any]) -> bytes:
    """One JSON line (floats exactly as Python writes them: they read back bit for bit)."""
    return json.dumps(record, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"


def segment_key(model_name: str, first_time: str, data: bytes) -> str:
    """Where a segment whose first record was answered at ``first_time`` is stored."""
    hour = datetime.fromisoformat(first_time).astimezone(UTC).strftime(_HOUR)
    return f"{PREFIX}/{model_name}/{hour}/{hashlib.sha256(data).hexdigest()}.jsonl"


def read_prediction_log(
    state: StateLocation,
    model_name: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """The records of ``model_name`` answered in ``[since, until)``, oldest first; each segment's
    digest is checked against its name."""
    records: list[dict[str, Any]] = []
    for hour in state.documents.names(f"{PREFIX}/{model_name}"):
        start = _hour_start(hour.rstrip("/"))
        if start is None:
            continue
        if (until is not None and start >= until) or (
            since is not None and start + timedelta(hours=1) <= since
        ):
            continue
        for name in state.documents.names(f"{PREFIX}/{model_name}/{hour.rstrip('/')}"):
            key = f"{PREFIX}/{model_name}/{hour.rstrip('/')}/{name}"
            records.extend(r for r in _segment(state, key) if _within(r, since, until))
    return sorted(records, key=lambda r: (r["time"], r["request_id"]))


def answered_rows(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Every answered row: its inputs, ``risk``, ``alert``, and the ``model`` and ``request_id``
    that answered it, in record order."""
    frames = []
    for record in records:
        if record.get("outcome") != ANSWERED:
            continue
        inputs = {
            k: [math.nan if v is None else v for v in vs] for k, vs in record["inputs"].items()
        }
        frame = pd.DataFrame(inputs)
        frame["risk"] = record["outputs"]["risk"]
        frame["alert"] = record["outputs"]["alert"]
        frame["model"] = record["model"]
        frame["request_id"] = record["request_id"]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _segment(state: StateLocation, key: str) -> Iterator[dict[str, Any]]:
    data = state.documents.read(key)
    if data is None:  # pragma: no cover - listed a moment ago; documents are never deleted
        raise StoreError(f"prediction segment {key} vanished from {state.location}")
    if hashlib.sha256(data).hexdigest() != key.rsplit("/", 1)[1].removesuffix(".jsonl"):
        raise VerificationError(f"prediction segment {key} was changed after it was written")
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            record = json.loads(line)
        except ValueError:
            raise VerificationError(f"prediction segment {key} line {number} is not JSON") from None
        if not isinstance(record, dict) or record.get("schema") != SCHEMA:
            raise VerificationError(f"prediction segment {key} line {number} is not a {SCHEMA}")
        yield record


def _hour_start(name: str) -> datetime | None:
    try:
        return datetime.strptime(name, _HOUR).replace(tzinfo=UTC)
    except ValueError:
        return None


def _within(record: Mapping[str, Any], since: datetime | None, until: datetime | None) -> bool:
    at = datetime.fromisoformat(record["time"])
    return (since is None or at >= since) and (until is None or at < until)


def _json_number(value: Any) -> Any:
    """A value as the record keeps it: numbers as numbers (NaN as null); what the door refused
    as sent (a string, cut to 100 characters; an infinity as its name)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value[:100]
    if isinstance(value, int):
        return value
    number = float(value)
    if math.isnan(number):
        return None
    return number if math.isfinite(number) else repr(number)
