"""Drift-monitor benchmark on the simulated hospital, side by side with plain alibi KSDrift.

For each scenario and seed: detection delay, whether the right feature was blamed, false alarms
per 30 days on the no-drift control, and the same for alibi-detect ``KSDrift`` at default
settings on the hourly rows of the same windows (the first simulated day is burn-in: the
model's features need history, and the simulation starts with stays in progress).

* data drift (kind "data"): the daily data-drift detector; delay = hours from onset to the end
  of the first alarmed daily window; target <= 24 h, right feature >= 90%.
* concept drift (kind "concept"): the concept monitor on the labels that arrive each day
  (stay-clustered AUROC z-test and its CUSUM, ADWIN on per-stay Brier errors, CUSUMs on the
  share of stays that turn septic, each feature's rise into sepsis within septic stays against
  the reference's); delay = hours from the start of the first day on which labels of
  post-onset hours arrive to the end of the first alarmed day; target <= 7 days.
* prevalence (kind "prior", a prior-probability shift): the extra septic patients look like
  septic patients, so nothing in the features moves; the score moves only as they deteriorate,
  and the label rate once their labels arrive. It is held to the concept target (<= 7 days of
  its labels arriving), caught by either monitor; right feature = the score or the label rate.

The no-drift control runs both monitors over 30 days: each one's false alarms are reported.
Then the speed of one day of a 500-bed hospital.

Environment: SAMDOPS_BENCH_SEEDS (default 20), SAMDOPS_BENCH_BEDS (default 150),
SAMDOPS_BENCH_SCENARIOS (comma-separated scenario names, default all; e.g.
``no_drift,prevalence,concept_treatment,concept_definition`` for the label-based monitors alone).
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from samdops.drift.backends import make_detector
from samdops.drift.concept import Baseline
from samdops.drift.concept_monitor import ConceptMonitor
from samdops.drift.scipy_detector import ScipyDriftDetector
from samdops.hospital import FEATURES, SCENARIOS, Scenario, get_scenario, simulate_hospital
from samdops.hospital.columns import (
    CATEGORICAL,
    CATEGORY_GROUPS,
    ICULOS,
    LABEL,
    LABEL_ARRIVAL,
    STAY_ID,
    TIME,
)
from samdops.monitoring.scoring import MonitoredModel
from samdops.sepsis.model import train_sepsis_model

DATA_DAYS = 6  # onset at day 3: three windows before, three after
CONTROL_DAYS = 31  # the first day is burn-in: 30 monitored days
BURN_IN_DAYS = 1  # model features need history; the simulation starts with stays in progress
CONCEPT_DAYS = 12
# The reference the model is trained and validated on: 30 days of the ICU (about 1,800 stays,
# 90 of them septic). Fewer septic stays leave the label-based tests little to compare with.
REFERENCE_DAYS = 30


@dataclass(frozen=True)
class Outcome:
    delay_hours: float | None  # None: not caught in the stream
    blamed_right: bool
    false_alarms: int  # alarms in windows before the onset


def _seeds() -> int:
    return int(os.environ.get("SAMDOPS_BENCH_SEEDS", "20"))


def _beds() -> int:
    return int(os.environ.get("SAMDOPS_BENCH_BEDS", "150"))


def _scenarios() -> dict[str, Scenario]:
    """The scenarios named in SAMDOPS_BENCH_SCENARIOS, in the order given; all when unset."""
    names = [n.strip() for n in os.environ.get("SAMDOPS_BENCH_SCENARIOS", "").split(",")]
    names = [n for n in names if n]
    if not names:
        return dict(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(
            f"SAMDOPS_BENCH_SCENARIOS names unknown scenario(s) {', '.join(unknown)}; "
            f"choose from {', '.join(SCENARIOS)}"
        )
    return {n: SCENARIOS[n] for n in names}


def _detector(reference: pd.DataFrame, threshold: float) -> ScipyDriftDetector:
    """The data-drift detector as the CLI and the monitoring step build it (scipy backend,
    alpha 0.01, Bonferroni), fitted on the scored ``reference``."""
    return make_detector(
        "scipy",
        list(FEATURES),
        categorical=CATEGORICAL,
        id_column=STAY_ID,
        time_column=TIME,
        alpha=0.01,
        correction="bonferroni",
        admission_column=ICULOS,
        category_groups=CATEGORY_GROUPS,
        scorer=lambda f: f["score"].to_numpy(),
        alert_threshold=threshold,
    ).fit(reference)


def _scored(model: MonitoredModel, frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(score=model.score(frame))


def _windows(frame: pd.DataFrame, days: int) -> list[pd.DataFrame]:
    day = frame[TIME].to_numpy() // 24
    return [frame[day == d] for d in range(days)]


def _data_outcome(
    alarms: list[tuple[bool, str | None]], scenario: Scenario, right: Callable[[str | None], bool]
) -> Outcome:
    onset_day = int(scenario.onset_day)
    false_alarms = sum(flag for flag, _ in alarms[BURN_IN_DAYS:onset_day])
    for day in range(onset_day, len(alarms)):
        flag, blamed = alarms[day]
        if flag:
            return Outcome((day + 1) * 24 - scenario.onset_hour, right(blamed), false_alarms)
    return Outcome(None, False, false_alarms)


class PlainKSDrift:
    """alibi-detect KSDrift at default settings on hourly rows (NaN left to alibi)."""

    def __init__(self, reference: pd.DataFrame) -> None:
        from alibi_detect.cd import KSDrift

        self.detector = KSDrift(reference[list(FEATURES)].to_numpy(dtype=np.float32))

    def __call__(self, window: pd.DataFrame) -> tuple[bool, str | None]:
        data = self.detector.predict(window[list(FEATURES)].to_numpy(dtype=np.float32))["data"]
        p = np.asarray(data["p_val"], dtype=float)
        blamed = FEATURES[int(np.nanargmin(p))] if np.isfinite(p).any() else None
        return bool(data["is_drift"]), blamed


def _concept_alarms(
    monitor: ConceptMonitor, frame: pd.DataFrame, days: int
) -> list[tuple[bool, str | None]]:
    """Per day: the concept monitor on the labels that arrived that day (labels of burn-in
    hours left out, as their windows are)."""
    monitored = frame[frame[TIME].to_numpy() >= 24 * BURN_IN_DAYS]
    arrival_day = monitored[LABEL_ARRIVAL].to_numpy() // 24
    alarms = []
    for day in range(days):
        result = monitor.update(monitored[arrival_day == day])
        alarms.append((result.is_drift, result.blamed))
    return alarms


def _first_label_day(frame: pd.DataFrame, scenario: Scenario) -> int:
    post = frame[frame[TIME] >= scenario.onset_hour]
    return int(post[LABEL_ARRIVAL].min() // 24)


def _label_outcome(
    alarms: list[tuple[bool, str | None]], scenario: Scenario, first_label_day: int
) -> Outcome:
    """Delay counted from the start of the first day that brings labels of post-onset hours;
    alarms before the onset day are false."""
    onset_day = int(scenario.onset_day)
    false_alarms = sum(flag for flag, _ in alarms[BURN_IN_DAYS:onset_day])
    expected = scenario.expected_features
    for day in range(onset_day, len(alarms)):
        flag, blamed = alarms[day]
        if flag:
            right = blamed in expected if expected else True
            return Outcome((day + 1 - first_label_day) * 24.0, right, false_alarms)
    return Outcome(None, False, false_alarms)


def main() -> None:
    seeds, beds, scenarios = _seeds(), _beds(), _scenarios()
    started = time.perf_counter()
    reference_raw = simulate_hospital(
        get_scenario("no_drift"), days=REFERENCE_DAYS, seed=424242, beds=beds
    )
    model = train_sepsis_model(reference_raw.frame)
    scored_reference = _scored(model, reference_raw.frame)
    reference = scored_reference[scored_reference[TIME] >= 24 * BURN_IN_DAYS]
    baseline = Baseline(
        auroc=model.baseline.auroc,
        alert_rate=model.baseline.alert_rate,
        threshold=model.baseline.threshold,
    )
    features = [f for f in FEATURES]
    ours = _detector(reference, baseline.threshold)
    plain = PlainKSDrift(reference)

    def concept_monitor() -> ConceptMonitor:
        return ConceptMonitor(baseline, features, id_column=STAY_ID, label_column=LABEL).fit(
            reference
        )

    print(
        f"sepsis model baseline: AUROC {model.baseline.auroc:.3f}, calibration slope "
        f"{model.baseline.calibration_slope:.2f} intercept "
        f"{model.baseline.calibration_intercept:.2f}, "
        f"alert rate {model.baseline.alert_rate:.3f} at threshold {model.baseline.threshold:.4f}"
    )
    print(f"{seeds} seeds, {beds} beds, daily windows, data-drift onset at day 3 (hour 72)\n")

    rows = []
    for name, scenario in scenarios.items():
        ours_out: list[Outcome] = []
        plain_out: list[Outcome] = []
        concept_out: list[Outcome] = []
        for seed in range(seeds):
            if scenario.kind == "concept":
                data = simulate_hospital(scenario, days=CONCEPT_DAYS, seed=seed, beds=beds)
                frame = _scored(model, data.frame)
                alarms = _concept_alarms(concept_monitor(), frame, CONCEPT_DAYS)
                first = _first_label_day(frame, scenario)
                ours_out.append(_label_outcome(alarms, scenario, first))
                continue
            days = {"none": CONTROL_DAYS, "prior": CONCEPT_DAYS}.get(scenario.kind, DATA_DAYS)
            data = simulate_hospital(scenario, days=days, seed=seed, beds=beds)
            frame = _scored(model, data.frame)
            windows = _windows(frame, days)
            ours_alarms = []
            for window in windows:
                result = ours.predict(window)
                ours_alarms.append((result.is_drift, result.blamed))
            plain_alarms = [plain(w) for w in windows]
            right = scenario.expected_features.__contains__
            if scenario.kind == "none":
                monitored = slice(BURN_IN_DAYS, None)
                ours_out.append(Outcome(None, True, sum(a for a, _ in ours_alarms[monitored])))
                plain_out.append(Outcome(None, True, sum(a for a, _ in plain_alarms[monitored])))
                labels = _concept_alarms(concept_monitor(), frame, days)
                concept_out.append(Outcome(None, True, sum(a for a, _ in labels[monitored])))
            elif scenario.kind == "prior":
                labels = _concept_alarms(concept_monitor(), frame, days)
                first = _first_label_day(frame, scenario)
                both = [
                    (d[0] or c[0], d[1] if d[0] else c[1])
                    for d, c in zip(ours_alarms, labels, strict=True)
                ]
                ours_out.append(_label_outcome(both, scenario, first))
                plain_out.append(_label_outcome(plain_alarms, scenario, first))
            else:
                ours_out.append(_data_outcome(ours_alarms, scenario, right))
                plain_out.append(_data_outcome(plain_alarms, scenario, right))
        label = "samdops data" if scenario.kind == "none" else "samdops"
        rows.append(_row(name, scenario, label, ours_out))
        if concept_out:
            rows.append(_row(name, scenario, "samdops concept (labels)", concept_out))
        if plain_out:
            rows.append(_row(name, scenario, "alibi KSDrift default", plain_out))
    _print_table(rows)
    print(f"\nbenchmark time {time.perf_counter() - started:.0f} s")
    _speed(model)


def _row(name: str, scenario: Scenario, detector: str, outcomes: list[Outcome]) -> list[str]:
    n = len(outcomes)
    if name == "no_drift":
        per30 = sum(o.false_alarms for o in outcomes) / n * 30 / (CONTROL_DAYS - BURN_IN_DAYS)
        return [name, detector, "-", "-", "-", f"{per30:.2f}"]
    caught = [o for o in outcomes if o.delay_hours is not None]
    limit = 24.0 if scenario.kind == "data" else 7 * 24.0
    since = "onset" if scenario.kind == "data" else "labels"
    within = sum(1 for o in caught if o.delay_hours is not None and o.delay_hours <= limit)
    delay = f"{np.median([o.delay_hours for o in caught]):.0f}" if caught else "never"
    blamed = (
        f"{100 * sum(o.blamed_right for o in outcomes) / n:.0f}%"
        if scenario.expected_features
        else "-"
    )
    pre = sum(o.false_alarms for o in outcomes)
    return [
        name,
        detector,
        delay,
        f"{100 * within / n:.0f}% (<= {limit:.0f} h of {since})",
        blamed,
        f"{pre} pre-onset",
    ]


def _print_table(rows: list[list[str]]) -> None:
    header = [
        "scenario",
        "detector",
        "median delay h",
        "caught in time",
        "right feature",
        "false alarms /30 d",
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def _speed(model: MonitoredModel) -> None:
    """One day of a 500-bed hospital, and memory over a stream of windows."""
    reference = _scored(
        model, simulate_hospital(get_scenario("no_drift"), days=7, seed=5, beds=500).frame
    )
    detector = _detector(reference, model.baseline.threshold)
    stream = simulate_hospital(get_scenario("lactate_mgdl"), days=20, seed=6, beds=500).frame
    raw_windows = _windows(stream, 20)
    timings, scoring, memory = [], [], []
    tracemalloc.start()
    for window in raw_windows:
        t0 = time.perf_counter()
        scored = window.assign(score=model.score(window))
        t1 = time.perf_counter()
        detector.predict(scored)
        t2 = time.perf_counter()
        scoring.append(t1 - t0)
        timings.append(t2 - t1)
        memory.append(tracemalloc.get_traced_memory()[0] / 2**20)
    tracemalloc.stop()
    rows = int(np.mean([len(w) for w in raw_windows]))
    print(
        f"\nspeed, 500 beds ({rows} patient-hours/day, {len(FEATURES)} columns + score, "
        f"{len(detector.predict(scored).tests)} tests incl. the domain classifier): drift check "
        f"median {np.median(timings):.2f} s (max {max(timings):.2f} s), plus model scoring "
        f"{np.median(scoring):.2f} s; traced memory after window 5 {memory[4]:.1f} MiB, "
        f"after window 20 {memory[-1]:.1f} MiB (tracemalloc slows the timings)"
    )


if __name__ == "__main__":
    main()
