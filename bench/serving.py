"""Serving benchmark: one-row latency and throughput of the samdops model server, beside the
floor (the booster's predict in process) and a stock ``kserve.ModelServer`` serving the same
booster with no gate, no door and no record; then records lost after SIGKILL under load.

Both servers run at once in the serving environment, on loopback, one uvicorn worker each, and
are measured in alternating rounds, so other load on a shared machine falls on both. The
clients are threads of this process with one keep-alive connection each. Targets: samdops p99
at most 1.5x the stock server's; at least 1,000 predictions/s with 8 clients (one-row requests,
and 32-row requests beside them). Takes about two minutes; ``main()`` prints the table.
"""

from __future__ import annotations

import collections
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.serving_helpers import PIMA_ROW as ROW  # noqa: E402 - needs the repository on the path

ROUNDS = 3
LATENCY_REQUESTS = 400  # per round and server
THROUGHPUT_SECONDS = 5.0  # per round and server
CLIENTS = 8
BATCH = 32  # rows per request in the second throughput column
SHM = "/dev/shm"  # a tmpfs: the journal there shows the server without the fsync's cost


def _body(request_id: str, rows: int = 1) -> bytes:
    inputs = [
        {"name": k, "shape": [rows], "datatype": "FP64", "data": [v] * rows} for k, v in ROW.items()
    ]
    return json.dumps({"id": request_id, "inputs": inputs}).encode()


class Client:
    """One keep-alive connection to ``port``, posting to ``path``."""

    def __init__(self, port: int, path: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.path = path

    def post(self, body: bytes) -> int:
        self.connection.request("POST", self.path, body, {"content-type": "application/json"})
        response = self.connection.getresponse()
        response.read()
        return response.status


def _latencies(call: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out


def _throughput(make: Callable[[int], Callable[[int], object]], seconds: float) -> float:
    """Calls per second of ``CLIENTS`` threads, each calling ``make(k)`` until time is up."""
    counts = [0] * CLIENTS
    stop = threading.Event()

    def run(k: int) -> None:
        call = make(k)
        n = 0
        while not stop.is_set():
            call(n)
            n += 1
        counts[k] = n

    threads = [threading.Thread(target=run, args=(k,)) for k in range(CLIENTS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def _wait_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"a server exited: {log.read_text()[-1500:]}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/v2/health/ready")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"a server did not get ready: {log.read_text()[-1500:]}")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stats(samples: list[float]) -> tuple[float, float]:
    ms = np.asarray(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def main() -> None:
    from samdops import settings
    from samdops.governance.service import GovernedRegistry
    from samdops.serving.gate import load_released
    from samdops.serving.records import read_prediction_log
    from tests.serving_helpers import PIMA, Server, released_home

    python = str(settings.serving_python())
    with tempfile.TemporaryDirectory(prefix="samdops-bench-serving-") as tmp:
        base = Path(tmp)
        home = released_home(base)
        served = load_released(GovernedRegistry(home, sinks=[]), PIMA)
        model_json = base / "model.json"
        model_json.write_bytes(served.model.model.to_bytes())
        model = served.model.model
        x = np.column_stack([[float(ROW[f])] for f in model.features])

        def floor_call(_: int = 0) -> object:
            return model.predict_matrix(x)

        samdops = Server(home, PIMA, base / "journal", poll=15)
        # the same server with its journal in memory: not durable; shows what the fsync costs
        shm = tempfile.TemporaryDirectory(prefix="samdops-bench-", dir=SHM)
        in_memory = Server(home, PIMA, Path(shm.name) / "journal", poll=15)
        ports = {"stock": _free_port(), "samdops": samdops.port, "memory": in_memory.port}
        stock_log = base / "stock.log"
        stock = subprocess.Popen(
            [
                python,
                str(REPO / "bench" / "_stock_server.py"),
                str(model_json),
                str(ports["stock"]),
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(stock_log, "ab"),  # noqa: SIM115 - the child keeps it
        )
        paths = {
            "stock": "/v2/models/stock/infer",
            "samdops": f"/v2/models/{PIMA}/infer",
            "memory": f"/v2/models/{PIMA}/infer",
        }
        latency: dict[str, list[float]] = collections.defaultdict(list)
        rate: dict[str, list[float]] = collections.defaultdict(list)
        try:
            samdops.start()
            in_memory.start()
            _wait_ready(ports["stock"], stock, stock_log)
            for round_ in range(ROUNDS):
                latency["floor"] += _latencies(floor_call, LATENCY_REQUESTS)
                rate["floor"].append(_throughput(lambda k: floor_call, THROUGHPUT_SECONDS / 2))
                for name in ("stock", "samdops", "memory"):
                    client = Client(ports[name], paths[name])
                    body = _body("latency")
                    _latencies(lambda c=client, b=body: c.post(b), 50)  # warm up
                    latency[name] += _latencies(
                        lambda c=client, b=body: c.post(b), LATENCY_REQUESTS
                    )

                    for rows, key in ((1, name), (BATCH, f"{name}-batch")):

                        def make(
                            k: int, name: str = name, r: int = round_, rows: int = rows
                        ) -> Callable[[int], object]:
                            c = Client(ports[name], paths[name])
                            return lambda n: c.post(_body(f"r{r}-{rows}-c{k}-{n}", rows))

                        rate[key].append(_throughput(make, THROUGHPUT_SECONDS / 2) * rows)
        finally:
            stock.terminate()
            stock.wait(timeout=60)
            samdops.stop()
            in_memory.stop()
            shm.cleanup()
        records = len(read_prediction_log(GovernedRegistry(home, sinks=[]).state, PIMA))
        lost = _sigkill_under_load(home, base)

    print(
        "| path | one-row p50 ms | p99 ms | p99 vs stock | predictions/s, 8 clients, one-row "
        f"requests | predictions/s, 8 clients, {BATCH}-row requests |"
    )
    print("|---|---|---|---|---|---|")
    stock_p99 = _stats(latency["stock"])[1]
    for name, label in (
        ("floor", "booster predict in process (floor)"),
        ("stock", "stock kserve.ModelServer, no gate, no record"),
        ("samdops", "samdops server, gate + door + durable record"),
        ("memory", "the same, journal in memory (/dev/shm: no fsync cost, not durable)"),
    ):
        p50, p99 = _stats(latency[name])
        batch = rate.get(f"{name}-batch")
        print(
            f"| {label} | {p50:.2f} | {p99:.2f} | {p99 / stock_p99:.2f}x | "
            f"{np.median(rate[name]):,.0f} | {f'{np.median(batch):,.0f}' if batch else '-'} |"
        )
    print(f"\nrecords in the prediction log after the rounds (both samdops servers): {records:,}")
    print(lost)


def _sigkill_under_load(home: Path, base: Path) -> str:
    """Kill the samdops server with SIGKILL under 8 clients; restart it; count records."""
    from samdops.governance.service import GovernedRegistry
    from samdops.serving.records import read_prediction_log
    from tests.serving_helpers import PIMA, Server

    server = Server(home, PIMA, base / "kill-journal", poll=15)
    port = server.port
    before = {
        r["request_id"] for r in read_prediction_log(GovernedRegistry(home, sinks=[]).state, PIMA)
    }
    server.start()
    answered: list[str] = []
    sent = [0]
    lock = threading.Lock()
    stop = threading.Event()

    def client(k: int) -> None:
        c = Client(port, f"/v2/models/{PIMA}/infer")
        n = 0
        while not stop.is_set():
            request_id = f"kill-c{k}-{n}"
            n += 1
            with lock:
                sent[0] += 1
            try:
                status = c.post(_body(request_id))
            except OSError:
                return
            if status == 200:
                with lock:
                    answered.append(request_id)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(5.0)
    server.kill()
    stop.set()
    for t in threads:
        t.join()
    server.start().stop()  # the restart recovers and uploads what the journal held
    counts = collections.Counter(
        r["request_id"]
        for r in read_prediction_log(GovernedRegistry(home, sinks=[]).state, PIMA)
        if r["request_id"] not in before
    )
    lost = sum(1 for rid in answered if counts[rid] == 0)
    twice = sum(1 for rid in answered if counts[rid] > 1)
    return (
        f"SIGKILL under load ({CLIENTS} clients, 5 s): {sent[0]:,} requests sent, "
        f"{len(answered):,} answered 200, {lost} of them without a record, {twice} with two"
    )


if __name__ == "__main__":
    main()
