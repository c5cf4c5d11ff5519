"""`samdops run train` through kfp.local against the same steps in one process without KFP.

Targets (2-core machine): the whole kfp.local run under 60 s, at most 1.6x the single-process
run, peak memory under 1.5 GiB. A further kfp.local run with ``PYTHONPROFILEIMPORTTIME`` (not
timed) shows where each step's time goes: its wall time, the part spent importing, and the
heaviest top-level imports; each KFP task is its own process and pays its imports again.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _measure import Measurement, measure

from tests.import_profile import StepProfile, step_profile

REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
IN_PROCESS = """
import sys
from pathlib import Path
from samdops.config import default_config_path, load_config
from samdops.steps.inprocess import run_training_in_process
config = load_config(default_config_path())
run_training_in_process(config, data=Path(config.data.path), data_sha256=config.data.sha256,
                        home=Path(sys.argv[1]), workdir=Path(sys.argv[2]))
"""


def _runs(kind: str) -> list[Measurement]:
    results = []
    for _ in range(REPEATS):
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "home"
            if kind == "kfp":
                command = [sys.executable, "-m", "samdops.cli", "run", "train", "--home", str(home)]
            else:
                command = [sys.executable, "-c", IN_PROCESS, str(home), str(Path(tmp) / "work")]
            results.append(measure(command, env={**os.environ, "SAMDOPS_HOME": str(home)}))
    return results


def _profiled_run() -> dict[str, StepProfile]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "SAMDOPS_HOME": str(home), "PYTHONPROFILEIMPORTTIME": "1"}
        command = [sys.executable, "-m", "samdops.cli", "run", "train", "--home", str(home)]
        subprocess.run(command, env=env, check=True, capture_output=True)
        (log,) = home.glob("runs/*/kfp-local.log")
        return step_profile(log.read_text(encoding="utf-8"))


def main() -> None:
    kfp, single = _runs("kfp"), _runs("single")
    kfp_s = statistics.median(m.seconds for m in kfp)
    single_s = statistics.median(m.seconds for m in single)
    kfp_mem = max(m.peak_tree_mib for m in kfp)
    single_mem = max(m.peak_tree_mib for m in single)
    ratio = kfp_s / single_s
    print(f"\n## Training run (median of {REPEATS}; peak RSS summed over the process tree)\n")
    print("| mode | wall time (s) | peak memory (MiB) | largest process (MiB) |")
    print("|---|---|---|---|")
    print(
        f"| samdops run train (kfp.local) | {kfp_s:.1f} | {kfp_mem:.0f} | "
        f"{max(m.peak_process_mib for m in kfp):.0f} |"
    )
    print(
        f"| same steps, one process | {single_s:.1f} | {single_mem:.0f} | "
        f"{max(m.peak_process_mib for m in single):.0f} |"
    )
    print()
    print("| target | measured | met |")
    print("|---|---|---|")
    print(f"| whole run < 60 s | {kfp_s:.1f} s | {'yes' if kfp_s < 60 else 'NO'} |")
    print(f"| kfp.local <= 1.6x one process | {ratio:.2f}x | {'yes' if ratio <= 1.6 else 'NO'} |")
    print(f"| peak memory < 1536 MiB | {kfp_mem:.0f} MiB | {'yes' if kfp_mem < 1536 else 'NO'} |")
    profile = _profiled_run()
    print("\n## Per step, kfp.local (one run with PYTHONPROFILEIMPORTTIME, so a little slower)\n")
    print("| step | wall time (s) | of which imports (s) | heaviest imports (s) |")
    print("|---|---|---|---|")
    for task, step in profile.items():
        top = ", ".join(f"{name} {secs:.2f}" for name, secs in step.heaviest(3))
        print(f"| {task} | {step.wall_seconds:.2f} | {step.import_seconds:.2f} | {top} |")
    total_wall = sum(s.wall_seconds for s in profile.values())
    total_imports = sum(s.import_seconds for s in profile.values())
    print(f"| all steps | {total_wall:.2f} | {total_imports:.2f} | |")


if __name__ == "__main__":
    main()
