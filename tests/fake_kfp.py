"""A loopback stand-in for the KFP v2beta1 REST API that records every request.

It answers just enough of the API for ``kfp.Client`` to upload, run and schedule pipelines:
healthz, pipelines (list, upload, upload_version, versions), experiments, runs and recurring
runs. State is in memory; ids are ``<kind>-<n>``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API = "/apis/v2beta1"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeKfp:
    requests: list[Request] = field(default_factory=list)
    pipelines: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    experiments: dict[str, dict[str, Any]] = field(default_factory=dict)
    recurring: dict[str, dict[str, Any]] = field(default_factory=dict)
    counter: int = 0
    url: str = ""

    def new_id(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}-{self.counter}"

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]

    def handle(self, req: Request) -> tuple[int, Any]:
        self.requests.append(req)
        path, method = req.path, req.method
        name = _filtered_name(req.query.get("filter", ""))
        if path == f"{API}/healthz":
            return 200, {"multi_user": False}
        if path == f"{API}/pipelines" and method == "GET":
            found = [p for p in self.pipelines.values() if name in (None, p["display_name"])]
            return 200, {"pipelines": found, "total_size": len(found)} if found else {}
        if path == f"{API}/pipelines/upload" and method == "POST":
            pid, vid = self.new_id("pipeline"), self.new_id("version")
            display = req.query["name"]
            self.pipelines[pid] = {"pipeline_id": pid, "display_name": display}
            self.versions[pid] = [_version(pid, vid, display)]
            return 200, self.pipelines[pid]
        if path == f"{API}/pipelines/upload_version" and method == "POST":
            pid, vid = req.query["pipelineid"], self.new_id("version")
            self.versions[pid].append(_version(pid, vid, req.query["name"]))
            return 200, self.versions[pid][-1]
        if path.startswith(f"{API}/pipelines/") and path.endswith("/versions"):
            pid = path.split("/")[-2]
            found = [v for v in self.versions[pid] if name in (None, v["display_name"])]
            return 200, {"pipeline_versions": found} if found else {}
        if path == f"{API}/experiments" and method == "GET":
            found = [e for e in self.experiments.values() if name in (None, e["display_name"])]
            return 200, {"experiments": found} if found else {}
        if path == f"{API}/experiments" and method == "POST":
            eid = self.new_id("experiment")
            self.experiments[eid] = {**req.json(), "experiment_id": eid}
            return 200, self.experiments[eid]
        if path == f"{API}/runs" and method == "POST":
            return 200, {**req.json(), "run_id": self.new_id("run"), "state": "PENDING"}
        if path == f"{API}/recurringruns" and method == "GET":
            found = [r for r in self.recurring.values() if name in (None, r["display_name"])]
            return 200, {"recurringRuns": found} if found else {}
        if path == f"{API}/recurringruns" and method == "POST":
            rid = self.new_id("recurring")
            self.recurring[rid] = {**req.json(), "recurring_run_id": rid}
            return 200, self.recurring[rid]
        if path.startswith(f"{API}/recurringruns/") and method == "DELETE":
            self.recurring.pop(path.rsplit("/", 1)[1], None)
            return 200, {}
        return 404, {"error": f"no route {method} {path}", "code": 5, "message": "not found"}


def _version(pid: str, vid: str, name: str) -> dict[str, Any]:
    return {"pipeline_id": pid, "pipeline_version_id": vid, "display_name": name}


def _filtered_name(raw: str) -> str | None:
    if not raw:
        return None
    predicates = json.loads(raw)["predicates"]
    return str(predicates[0]["stringValue"])


def _handler(fake: FakeKfp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, answer = fake.handle(Request(self.command, parts.path, query, body))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def serve() -> Iterator[FakeKfp]:
    """Run a :class:`FakeKfp` on a loopback port until the generator is closed."""
    fake = FakeKfp()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
