"""The monitor's memory of past windows, for the report's plots over time.

One JSON line per window in ``<home>/monitoring/<model>/history.jsonl``: appended with a single
``O_APPEND`` write and fsynced (a line is never interleaved with another writer's, and a crash
leaves at most a torn last line, which reading skips). Reading keeps only the last ``limit``
windows, so memory stays bounded however long the stream runs.
"""

from __future__ import annotations

import json
import os
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from samdops.jsonsafe import json_safe
from samdops.settings import samdops_home

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


def history_path(home: str | Path | None, model: str) -> Path:
    """``<home>/monitoring/<model, made file-safe>/history.jsonl``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model or "unscored")
    return samdops_home(home) / "monitoring" / safe / "history.jsonl"


class MonitorHistory:
    """Append-only history of window records, read back as the last ``limit`` of them."""

    def __init__(self, path: str | Path, limit: int = HISTORY_LIMIT) -> None:
        self.path = Path(path)
        self.limit = limit

    def recent(self) -> list[WindowRecord]:
        """The last ``limit`` complete records, oldest first."""
        if not self.path.exists():
            return []
        kept: deque[WindowRecord] = deque(maxlen=self.limit)
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # torn last line of a crashed writer
                kept.append(WindowRecord.from_dict(json.loads(line)))
        return list(kept)

    def append(self, record: WindowRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json_safe(record.as_dict())
        line = (json.dumps(data, sort_keys=True) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
