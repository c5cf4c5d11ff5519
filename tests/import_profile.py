"""Per-task wall and import times from a kfp.local log written with ``PYTHONPROFILEIMPORTTIME``.

Each KFP task is its own process, so the log holds every task's own import profile between its
"Executing task" and "finished" lines. Used by ``bench/train.py`` and the step-import tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TASK = re.compile(r"Executing task \S*?'([\w-]+)'")
_DONE = re.compile(r"Task \S*?'([\w-]+)'\S* finished")
_STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d\.\d+) - ")
_IMPORT = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)")


@dataclass
class StepProfile:
    wall_seconds: float = 0.0
    import_seconds: float = 0.0  # top-level imports, cumulative
    packages: dict[str, float] = field(default_factory=dict)  # each package's own cumulative

    def heaviest(self, n: int) -> list[tuple[str, float]]:
        """The ``n`` slowest third-party packages (samdops and private modules left out)."""
        third_party = {
            k: v for k, v in self.packages.items() if k != "samdops" and not k.startswith("_")
        }
        return sorted(third_party.items(), key=lambda kv: -kv[1])[:n]


def _seconds(line: str) -> float | None:
    match = _STAMP.match(line)
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def step_profile(log: str) -> dict[str, StepProfile]:
    """Every finished task of the log, in order, with its wall time and imports."""
    out: dict[str, StepProfile] = {}
    task, started, current = None, 0.0, StepProfile()
    for line in log.splitlines():
        if (match := _TASK.search(line)) is not None:
            task, started, current = match.group(1), _seconds(line) or 0.0, StepProfile()
        elif task and (match := _IMPORT.search(line)) is not None:
            cumulative, indent, name = int(match.group(1)) / 1e6, match.group(2), match.group(3)
            if not indent:
                current.import_seconds += cumulative
            root = name.split(".")[0]
            if root == name or root not in current.packages:
                current.packages[root] = max(current.packages.get(root, 0.0), cumulative)
        elif task and _DONE.search(line):
            current.wall_seconds = (_seconds(line) or started) - started
            out[task] = current
            task = None
    return out
