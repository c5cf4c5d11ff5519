"""The monitor's memory of past windows, for the report's plots over time.

One write-once document per window, ``monitoring/<model>/history/<n>.json`` at the state
location, numbered without races (:func:`~samdops.store.documents.create_next`): a crash leaves
either the whole record or none, and concurrent runs never overwrite each other. Reading keeps
only the last ``limit`` windows, so memory and time stay bounded however long the stream runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from samdops.jsonsafe import json_safe
from samdops.store.documents import DocumentStore, LocalDocuments, create_next, numbered, numbers

HISTORY_LIMIT = 90


@dataclass(frozen=True)
class WindowRecord:
    """What the report plots of one window: its smallest p-value and the model's performance."""

    window: str
    min_p_value: float
    is_drift: bool
    auroc: float | None = None
    auroc_estimated: bool = False
    alert_rate: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowRecord:
        return cls(
            window=str(data["window"]),
            min_p_value=float(data["min_p_value"]),
            is_drift=bool(data["is_drift"]),
            auroc=None if data.get("auroc") is None else float(data["auroc"]),
            auroc_estimated=bool(data.get("auroc_estimated", False)),
            alert_rate=None if data.get("alert_rate") is None else float(data["alert_rate"]),
        )


def monitoring_prefix(model: str) -> str:
    """``monitoring/<model, made key-safe>``: where a monitored model's history and labels live."""
    return "monitoring/" + (re.sub(r"[^A-Za-z0-9._-]+", "_", model or "unscored"))


class MonitorHistory:
    """Append-only history of window records, read back as the last ``limit`` of them."""

    def __init__(
        self, store: DocumentStore | str | Path, prefix: str = "", limit: int = HISTORY_LIMIT
    ) -> None:
        self.store = store if isinstance(store, DocumentStore) else LocalDocuments(store)
        self.prefix = prefix.rstrip("/") or "history"
        self.limit = limit

    def recent(self) -> list[WindowRecord]:
        """The last ``limit`` records, oldest first."""
        out = []
        for number in numbers(self.store, self.prefix, "json")[-self.limit :]:
            data = self.store.read(numbered(self.prefix, number, "json"))
            if data is not None:
                out.append(WindowRecord.from_dict(json.loads(data)))
        return out

    def append(self, record: WindowRecord) -> None:
        data = json.dumps(json_safe(record.as_dict()), sort_keys=True).encode("utf-8")
        create_next(self.store, self.prefix, "json", lambda _: data)
