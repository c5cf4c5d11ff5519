"""Playing a simulated ICU against a model server, hour by hour, on an accelerated clock.

For each simulated hour, in order: every stay with a row in that hour is sent with its hours so
far (the server keeps no per-stay state), in one Open Inference Protocol v2 request
(``POST <url>/v2/models/<name>/infer``, one tensor per column, ``null`` for a missing value)
or, above ``max_rows`` rows, in several split by stays; then the labels confirmed in that hour
(``LabelArrival``) go into the label feed, as ``samdops labels ingest`` would store them.
``speed`` is simulated hours per real second (0: as fast as the server answers).

A request refused at the door (HTTP 422: a value outside the data contract, such as a lactate
charted in mg/dL above the contract's range) is sent again stay by stay, as an interface engine
would, so that one stay's bad value leaves the other stays scored; a stay refused alone is sent
alone from then on, and counted. Nothing else is retried: any other answer than 200, one
without a risk per row, or a server that cannot be reached stops the play with one line naming
the hour and the server's message.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from samdops._types import Array
from samdops.errors import ConfigError, SamdopsError
from samdops.hospital.columns import LABEL, LABEL_ARRIVAL, STAY_ID, TIME
from samdops.hospital.generator import HospitalData
from samdops.monitoring.label_feed import HOSPITAL_COLUMNS, LabelFeed

MAX_ROWS = 10_000  # the server's limit per request
TIMEOUT_SECONDS = 60.0

Post = Callable[[str, bytes, float], tuple[int, bytes]]


class ServerAnswered(SamdopsError):
    """The model server refused or failed a request of the play (or could not be reached)."""


@dataclass(frozen=True)
class Played:
    """What a play sent and how long it took."""

    hours: int
    requests: int
    rows: int
    labels: int
    seconds: float
    refused: int = 0  # requests of one stay refused at the door (HTTP 422)

    def summary(self) -> str:
        return (
            f"played {self.hours} hours: {self.requests} requests, {self.rows} rows, "
            f"{self.refused} single-stay requests refused at the door, "
            f"{self.labels} labels ingested, {self.seconds:.1f} s"
        )


def http_post(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    """POST ``body`` as JSON; the status and the body of the answer (errors included)."""
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def play_live(
    data: HospitalData,
    url: str,
    *,
    model_name: str,
    columns: Sequence[str],
    feed: LabelFeed | None,
    speed: float = 0.0,
    post: Post = http_post,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    max_rows: int = MAX_ROWS,
    request_prefix: str | None = None,
) -> Played:
    """Play ``data`` against the server at ``url`` (its base, e.g. ``http://host:8080``)."""
    if not (math.isfinite(speed) and speed >= 0):
        raise ConfigError(f"the speed must be 0 or more simulated hours per second; got {speed}")
    absent = [c for c in columns if c not in data.frame.columns]
    if absent:
        raise ConfigError(f"the simulated hospital has no column(s) {', '.join(absent)}")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise ConfigError(
            f"--live {_shown(url)[:80]} is not the base URL of a model server; give "
            "http://HOST:PORT"
        )
    endpoint = f"{url.rstrip('/')}/v2/models/{model_name}/infer"
    prefix = request_prefix or f"sim-{uuid.uuid4().hex[:8]}"
    frame = data.frame.sort_values([STAY_ID, TIME], kind="stable").reset_index(drop=True)
    values = {c: frame[c].to_numpy() for c in columns}
    stay = frame[STAY_ID].to_numpy()
    first_row = np.r_[0, np.flatnonzero(stay[1:] != stay[:-1]) + 1]
    start = np.repeat(first_row, np.diff(np.r_[first_row, len(frame)]))  # each row's stay start
    by_hour = _rows_by(frame[TIME].to_numpy())
    arrivals = _rows_by(frame[LABEL_ARRIVAL].to_numpy())
    label_columns = [STAY_ID, TIME, LABEL, LABEL_ARRIVAL]
    hours = data.days * 24
    requests = rows = labels = refused = 0
    isolated: set[int] = set()  # stays refused at the door once: sent alone from then on
    began = clock()
    for hour in range(hours):
        if speed > 0:
            wait = began + hour / speed - clock()
            if wait > 0:
                sleep(wait)
        now = by_hour.get(hour)
        if now is not None:
            alone = np.isin(stay[now], list(isolated))
            batches = list(_requests(start[now[~alone]], now[~alone], max_rows, hour))
            singles = [np.arange(start[row], row + 1) for row in now[alone]]
            for part, chosen in enumerate(batches):
                request_id = f"{prefix}-h{hour:05d}-{part}"
                body = _body(request_id, values, chosen)
                requests += 1
                if _send(post, endpoint, body, hour, request_id, len(chosen), url):
                    rows += len(chosen)
                else:  # refused at the door: each stay of it alone
                    singles += [
                        np.arange(start[row], row + 1) for row in chosen[np.isin(chosen, now)]
                    ]
            for chosen in singles:
                request_id = f"{prefix}-h{hour:05d}-s{int(stay[chosen[0]])}"
                body = _body(request_id, values, chosen)
                requests += 1
                if _send(post, endpoint, body, hour, request_id, len(chosen), url):
                    rows += len(chosen)
                else:
                    isolated.add(int(stay[chosen[0]]))
                    refused += 1
        confirmed = arrivals.get(hour)
        if feed is not None and confirmed is not None:
            done = feed.ingest(
                frame.loc[confirmed, label_columns],
                HOSPITAL_COLUMNS,
                source=f"the labels confirmed in hour {hour}",
            )
            labels += done.new
    return Played(hours, requests, rows, labels, clock() - began, refused)


def _rows_by(hours: Array) -> dict[int, Array]:
    """The row numbers per hour value, each in row order."""
    order = np.argsort(hours, kind="stable")
    ordered = hours[order]
    edges = np.flatnonzero(np.diff(ordered)) + 1
    return {
        int(chunk[0]): rows
        for rows, chunk in zip(np.split(order, edges), np.split(ordered, edges), strict=True)
        if len(rows)
    }


def _requests(starts: Array, ends: Array, max_rows: int, hour: int) -> Iterator[Array]:
    """The rows of each request: each active stay's rows up to this hour, whole stays per
    request, at most ``max_rows`` rows each."""
    batch: list[Array] = []
    size = 0
    for first, last in zip(starts.tolist(), ends.tolist(), strict=True):
        stay_rows = np.arange(first, last + 1)
        if len(stay_rows) > max_rows:
            raise ConfigError(
                f"hour {hour}: one stay has {len(stay_rows)} hours so far, more than the "
                f"{max_rows} rows a request may carry"
            )
        if size + len(stay_rows) > max_rows:
            yield np.concatenate(batch)
            batch, size = [], 0
        batch.append(stay_rows)
        size += len(stay_rows)
    if batch:
        yield np.concatenate(batch)


def _body(request_id: str, values: dict[str, Array], rows: Array) -> bytes:
    inputs = []
    for name, column in values.items():
        data = [
            None if isinstance(v, float) and math.isnan(v) else v for v in column[rows].tolist()
        ]
        inputs.append({"name": name, "shape": [len(rows)], "datatype": "FP64", "data": data})
    return json.dumps({"id": request_id, "inputs": inputs}, allow_nan=False).encode("utf-8")


def _send(
    post: Post, endpoint: str, body: bytes, hour: int, request_id: str, n: int, url: str
) -> bool:
    """``True`` when answered with a risk per row, ``False`` when refused at the door (422);
    anything else stops the play."""
    where = f"hour {hour} (request {request_id}, {n} rows)"
    try:
        status, answer = post(endpoint, body, TIMEOUT_SECONDS)
    except (OSError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ServerAnswered(
            f"cannot reach the model server at {_shown(url)} in {where}: {_brief(reason)}; the "
            "play stopped there (nothing is retried)"
        ) from None
    if status == 422:
        return False
    if status != 200:
        raise ServerAnswered(
            f"the model server answered HTTP {status} to {where}: {_message(answer)}; the play "
            "stopped there (nothing is retried)"
        )
    risk = _risk(answer)
    if risk is None or len(risk) != n:
        raise ServerAnswered(
            f"the model server's answer to {where} holds no risk per row; the play stopped there"
        )
    return True


def _risk(answer: bytes) -> list[Any] | None:
    try:
        document = json.loads(answer)
    except ValueError:
        return None
    outputs = document.get("outputs") if isinstance(document, dict) else None
    for output in outputs if isinstance(outputs, list) else []:
        if isinstance(output, dict) and output.get("name") == "risk":
            data = output.get("data")
            return data if isinstance(data, list) else None
    return None


def _message(answer: bytes) -> str:
    """The server's reason, on one line and short (its ``error`` or ``detail`` field)."""
    text = answer.decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict):
        found = document.get("error") or document.get("detail")
        if found:
            text = found if isinstance(found, str) else json.dumps(found)
    return _brief(text) or "(no message)"


def _brief(value: object) -> str:
    text = " ".join(str(value).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def _shown(url: str) -> str:
    """``url`` without any user name or password in it."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
