"""Caching that cannot lie: a step whose result depends on time or on shared state (the
registry, the audit log, the monitoring history, yesterday's window) is compiled with caching
off, so a recurring run never replays an earlier day's result. Every step appends its start and
end events to the audit log (issue 18), so no step is pure any more and none is cached: a step
served from KFP's cache would leave the run's trace without it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from samdops.cluster.kube import STEPS
from samdops.launch.compiler import PIPELINES, compile_pipeline

PURE: set[str] = set()


def _tasks(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every task of the pipeline, in the root DAG and in the DAGs of its condition branches."""
    yield from spec["root"]["dag"]["tasks"].items()
    for component in spec["components"].values():
        yield from component.get("dag", {}).get("tasks", {}).items()


@pytest.fixture(scope="module")
def specs() -> dict[str, dict[str, Any]]:
    return {name: next(yaml.safe_load_all(compile_pipeline(name))) for name in PIPELINES}


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_only_pure_steps_may_be_cached(specs: dict[str, dict[str, Any]], pipeline: str) -> None:
    spec = specs[pipeline]
    cached = {}
    for name, task in _tasks(spec):
        component = spec["components"][task["componentRef"]["name"]]
        if "executorLabel" not in component:
            continue  # a condition branch or a sub-pipeline: its tasks are listed with its DAG
        cached[name] = task.get("cachingOptions", {}).get("enableCache", False)
    assert cached, f"{pipeline} has no tasks"
    assert {n for n, on in cached.items() if on} == PURE & set(cached)
    expected_off = {
        "samdops-training": {"importer", "ingest", "validate", "train", "evaluate", "register"},
        "samdops-retraining": {"importer", "ingest", "pccp-gate", "register-candidate"},
        "samdops-monitoring": {"fetch-window", "drift-monitor", "record-alerts"},
    }[pipeline]
    assert expected_off <= {n for n, on in cached.items() if not on}


def test_every_step_setting_says_whether_it_may_be_cached() -> None:
    assert {name for name, step in STEPS.items() if step.cache} == PURE
