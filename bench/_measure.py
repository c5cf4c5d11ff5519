"""Wall time and peak memory of a command and all its child processes."""

from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import dataclass

import psutil

MIB = 1024 * 1024


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_tree_mib: float  # the largest sum of RSS over the process tree at any sample
    peak_process_mib: float  # the largest RSS of any one process
    returncode: int


def measure(
    command: list[str], env: dict[str, str] | None = None, interval: float = 0.05
) -> Measurement:
    """Run ``command``, sampling the RSS of it and its descendants every ``interval`` seconds."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(proc.pid)
    peak_tree = peak_one = 0
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
            rss = []
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    rss.append(p.memory_info().rss)
            peak_tree = max(peak_tree, sum(rss))
            peak_one = max(peak_one, max(rss, default=0))
        except psutil.Error:
            pass
        time.sleep(interval)
    seconds = time.perf_counter() - started
    _, stderr = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{command} failed: {stderr.decode()[-2000:]}")
    return Measurement(seconds, peak_tree / MIB, peak_one / MIB, proc.returncode)
