"""The model server: a ``kserve.Model`` that serves only a released, verified model.

Open Inference Protocol v2 over REST (``POST /v2/models/<name>/infer``): one input tensor per
contract column (the label excepted), one element per row; outputs ``risk`` (FP64) and
``alert`` (BOOL, risk at or above the validated threshold). A model whose features look back
over a stay (sepsis) is sent each stay's hours so far, in the request: the server keeps no
per-stay state, so a restart, a second replica or a rollout changes no score, and an hour scores
the same in every request that carries it (its features depend only on earlier hours).

- **Gate.** :func:`samdops.serving.gate.load_released` at start; a refusal ends the start.
- **Door.** Rows outside the data contract: HTTP 422 naming the field and the value.
- **Record.** Each answer (and each refusal) is durable in the journal before the response.
- **Watcher.** Every ``$SAMDOPS_SERVING_POLL_SECONDS`` (15) the registry is read again: a
  served version that left ``released`` answers 503 with the reason; when the server follows a
  name (no ``@VERSION``), a newly released version is gated, then swapped in between two
  requests, so no request fails during a rollout and each record names the version that
  answered.
- **Metrics** on ``/metrics`` beside KServe's own (``request_predict_seconds``, ...).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import kserve
import pandas as pd
from fastapi import Request
from fastapi.responses import JSONResponse
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse
from prometheus_client import Counter, Gauge, Histogram

from samdops.errors import RowsRefused, SamdopsError
from samdops.governance.service import GovernedRegistry
from samdops.serving.door import checked_rows, request_columns
from samdops.serving.gate import (
    ServedModel,
    load_released,
    newest_released,
    parse_ref,
    retirement_reason,
)
from samdops.serving.journal import Journal
from samdops.serving.records import prediction_record

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "samdops_requests", "Prediction requests, by outcome", ["model_name", "version", "outcome"]
)
REFUSED_ROWS = Counter("samdops_refused_rows", "Rows refused at the door", ["model_name"])
ROWS = Counter("samdops_predicted_rows", "Rows scored and answered", ["model_name", "version"])
LATENCY = Histogram(
    "samdops_request_seconds",
    "Time from request to durable record, per answered request",
    ["model_name"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
SERVED = Gauge(
    "samdops_model_served", "1 for the version being served", ["model_name", "version", "sha256"]
)
JOURNAL_PENDING = Gauge(
    "samdops_journal_pending_segments", "Sealed journal segments not yet uploaded", ["model_name"]
)


class ModelRetired(SamdopsError):
    """The served version left ``released`` (HTTP 503, with the reason)."""


class GatedModel(kserve.Model):  # type: ignore[misc]  # kserve ships no type hints
    """The released model ``ref`` (``NAME@VERSION``, or ``NAME`` to follow new releases)."""

    def __init__(
        self,
        ref: str,
        governed: GovernedRegistry,
        journal: Journal,
        *,
        expect_sha256: str | None = None,
        poll_seconds: float = 15.0,
    ) -> None:
        name, version = parse_ref(ref)
        super().__init__(name)
        self.ref = ref
        self.follows = version is None
        self.governed = governed
        self.journal = journal
        self.expect_sha256 = expect_sha256
        self.poll_seconds = poll_seconds
        self.served: ServedModel | None = None
        self.retired: str | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def load(self) -> bool:
        if self.served is not None:  # kserve calls load() again while not ready: no re-gate
            return True
        self._serve(load_released(self.governed, self.ref, expect_sha256=self.expect_sha256))
        self.journal.open()
        self._watcher = threading.Thread(target=self._watch, name="registry-watcher", daemon=True)
        self._watcher.start()
        self.ready = True
        return True

    def stop(self) -> None:
        self._stop.set()
        self.journal.close()
        if self.served is not None:
            SERVED.labels(self.name, str(self.served.version), self.served.model_sha256).set(0)

    async def predict(
        self,
        payload: InferRequest,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> InferResponse:
        started = asyncio.get_running_loop().time()
        served = self.served  # one version answers the whole request, even during a swap
        assert served is not None
        if self.retired is not None:
            REQUESTS.labels(self.name, str(served.version), "retired").inc()
            raise ModelRetired(self.retired)
        request_id = payload.id or (headers or {}).get("x-request-id") or str(uuid.uuid4())
        inputs = {i.name: _values(i) for i in payload.inputs}
        contract = served.model.config.contract
        try:
            rows = checked_rows(inputs, contract)
        except RowsRefused as refused:
            await self._record(
                request_id,
                served,
                inputs={k: v for k, v in inputs.items() if _plain(v)},
                refused=refused.refused or ({"row": None, "reason": str(refused)},),
            )
            REQUESTS.labels(self.name, str(served.version), "refused").inc()
            REFUSED_ROWS.labels(self.name).inc(len(refused.refused) or 1)
            raise
        # a transform takes a table; a model on the contract's columns takes them as they are
        risk = served.model.score(pd.DataFrame(rows) if served.model.looks_back else rows)
        alert = risk >= served.model.baseline.threshold
        columns = {c: rows[c].tolist() for c in request_columns(contract)}
        await self._record(request_id, served, inputs=columns, risk=risk, alert=alert)
        REQUESTS.labels(self.name, str(served.version), "answered").inc()
        ROWS.labels(self.name, str(served.version)).inc(len(risk))
        LATENCY.labels(self.name).observe(asyncio.get_running_loop().time() - started)
        return InferResponse(
            response_id=request_id,
            model_name=self.name,
            model_version=str(served.version),
            infer_outputs=[
                InferOutput("risk", [len(risk)], "FP64", data=[float(r) for r in risk]),
                InferOutput("alert", [len(alert)], "BOOL", data=[bool(a) for a in alert]),
            ],
            parameters={"model": served.ref, "model_sha256": served.model_sha256},
        )

    async def _record(self, request_id: str, served: ServedModel, **fields: Any) -> None:
        record = prediction_record(
            request_id=request_id,
            answered_at=datetime.now(UTC),
            model=served.ref,
            model_sha256=served.model_sha256,
            **fields,
        )
        await self.journal.commit(record)

    # -- the registry watcher ------------------------------------------------------------------

    def _serve(self, served: ServedModel) -> None:
        old = self.served
        self.served = served
        self.retired = None
        SERVED.labels(self.name, str(served.version), served.model_sha256).set(1)
        if old is not None and old.ref != served.ref:
            SERVED.labels(self.name, str(old.version), old.model_sha256).set(0)
            log.info("now serving %s (was %s)", served.ref, old.ref)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except SamdopsError as exc:  # keep serving what was verified; say why once a round
                log.warning("registry check failed: %s", exc)
            JOURNAL_PENDING.labels(self.name).set(self.journal.pending_segments())

    def refresh(self) -> None:
        """Read the registry again: swap in a newer released version (when following the name)
        and stop answering when the served version left ``released``."""
        served = self.served
        assert served is not None
        if self.follows:
            try:  # the whole gate only for a version newer than the one served
                newer = newest_released(self.governed, self.name).record.version > served.version
                newest = load_released(self.governed, self.name) if newer else None
            except SamdopsError as exc:
                log.warning("a newer release is not served: %s", exc)
                newest = None
            if newest is not None:
                self._serve(newest)
                return
        reason = retirement_reason(self.governed, served)
        if reason is not None and self.retired is None:
            log.warning("%s", reason)
        self.retired = reason


def add_handlers(app: Any) -> None:
    """Map the door's refusal to 422 and a retired model to 503, each with its reason."""

    async def refused(_: Request, exc: RowsRefused) -> JSONResponse:
        return JSONResponse(status_code=422, content={"error": str(exc), "refused": exc.refused})

    async def retired(_: Request, exc: ModelRetired) -> JSONResponse:
        return JSONResponse(status_code=503, content={"error": str(exc)})

    app.add_exception_handler(RowsRefused, refused)
    app.add_exception_handler(ModelRetired, retired)


def _values(tensor: Any) -> list[Any]:
    """A tensor's elements as a flat list, as sent (strings stay strings, for the door)."""
    data = tensor.data
    if isinstance(data, list):
        return data
    return list(tensor.as_numpy().reshape(-1).tolist())


def _plain(values: list[Any]) -> bool:
    return all(v is None or isinstance(v, int | float | str | bool) for v in values)
