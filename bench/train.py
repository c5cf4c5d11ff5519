"""`samdops run train` through kfp.local against the same steps in one process without KFP.

Targets (2-core machine): the whole kfp.local run under 60 s, at most 1.6x the single-process
run, peak memory under 1.5 GiB. A further kfp.local run with ``PYTHONPROFILEIMPORTTIME`` (not
timed) shows where each step's time goes: its wall time, the part spent importing, and the
heaviest top-level imports; each KFP task is its own process and pays its imports again.
The floor is measured beside them: the same five tasks through kfp.local doing nothing (and
doing nothing but import pandas, which every step needs to read its Parquet inputs).
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
                        state=Path(sys.argv[1]), workdir=Path(sys.argv[2]))
"""

KINDS = ("kfp", "single", "floor", "floor+pandas", "floor+samdops", "floor+audited", "define")
# What `samdops run train` does before its first task, besides starting: define the training
# pipeline (its components) and compile it to the spec whose digest the run records.
DEFINE = """
from samdops.launch.compiler import compile_pipeline
compile_pipeline("samdops-training")
"""
FLOORS = {
    "floor": "five empty tasks",
    "floor+pandas": "five tasks that import pandas",
    "floor+samdops": "five tasks that import what every samdops step imports",
    "floor+audited": "the same, each also appending its start and end to the audit log",
}


def _command(kind: str, tmp: Path) -> list[str]:
    home = tmp / "home"
    if kind == "kfp":
        return [sys.executable, "-m", "samdops.cli", "run", "train", "--home", str(home)]
    if kind == "single":
        return [sys.executable, "-c", IN_PROCESS, str(home), str(tmp / "work")]
    if kind == "define":
        return [sys.executable, "-c", DEFINE]
    floor = str(Path(__file__).with_name("_floor_pipeline.py"))
    return [sys.executable, floor, str(tmp / "root"), kind.partition("+")[2] or "empty"]


def _runs() -> dict[str, list[Measurement]]:
    """Each kind once per round, the rounds one after another: a slow spell of the machine
    touches every kind alike."""
    results: dict[str, list[Measurement]] = {kind: [] for kind in KINDS}
    for _ in range(REPEATS):
        for kind in KINDS:
            with tempfile.TemporaryDirectory() as tmp:
                env = {**os.environ, "SAMDOPS_HOME": str(Path(tmp) / "home")}
                done = measure(_command(kind, Path(tmp)), env=env)
                if done.returncode != 0:
                    raise SystemExit(f"{kind} run failed with exit code {done.returncode}")
                results[kind].append(done)
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
    runs = _runs()
    kfp, single = runs["kfp"], runs["single"]
    kfp_s = statistics.median(m.seconds for m in kfp)
    single_s = statistics.median(m.seconds for m in single)
    floors = {kind: statistics.median(m.seconds for m in runs[kind]) for kind in FLOORS}
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
    for kind, what in FLOORS.items():
        peak = max(m.peak_tree_mib for m in runs[kind])
        print(f"| floor: {what} (kfp.local) | {floors[kind]:.1f} | {peak:.0f} | |")
    floor = floors["floor+samdops"]
    define = statistics.median(m.seconds for m in runs["define"])
    # The single process starts once and imports what a samdops task imports once: one task's
    # share of the floor is already in it.
    least = (single_s + floor * 4 / 5 + define) / single_s
    print(
        f"\nFloor: five samdops tasks cost {floor:.1f} s through kfp.local before any step does "
        f"its work ({floors['floor']:.1f} s for five empty tasks), and defining and compiling "
        f"the pipeline {define:.1f} s. With the single process's own start and imports counted "
        f"once, the least a kfp.local run can take is {least:.2f}x the single process; "
        f"measured: {ratio:.2f}x.\n"
    )
    audit_s = floors["floor+audited"] - floor
    audit_share = audit_s / (kfp_s - audit_s)
    print(
        f"Auditing every step (its start and end events, each step's own checkpoints) costs "
        f"{audit_s:.2f} s per run: {audit_share:+.1%} against the same run without it (the "
        "reads and the test-set event go under the end event's checkpoint and add little).\n"
    )
    print("| target | measured | met |")
    print("|---|---|---|")
    print(f"| whole run < 60 s | {kfp_s:.1f} s | {'yes' if kfp_s < 60 else 'NO'} |")
    print(
        f"| auditing every step <= +5% | {audit_share:+.1%} | "
        f"{'yes' if audit_share <= 0.05 else 'NO'} |"
    )
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
