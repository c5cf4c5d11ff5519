"""The Kubernetes settings the compiled training pipeline carries (its PlatformSpec document)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from samdops.cluster.images import is_pinned
from samdops.cluster.kube import (
    DEFAULT_PIPELINE_ROOT,
    PIPELINE_ROOT_ENV,
    ROLE_LABEL,
    RUN_AS_USER,
    RUNTIME_CONFIG_MAP,
    STEPS,
    pipeline_root,
)
from samdops.errors import ConfigError
from tests.conftest import REPO

PINNED = "registry.example/samdops/component@sha256:" + "b" * 64
TRAINING_STEPS = ("evaluate", "ingest", "register", "train", "validate")
_QUANTITY = {"m": 1e-3, "Mi": 2**20, "Gi": 2**30, "": 1}


def _compile(out: Path, pipeline: str = "samdops-training", **env: str) -> list[dict[str, Any]]:
    full = {k: v for k, v in os.environ.items() if k not in {PIPELINE_ROOT_ENV}}
    full.update({"SAMDOPS_COMPONENT_IMAGE": PINNED, **env})
    done = subprocess.run(
        [sys.executable, "-m", "samdops.cli", "compile", "--release", "--out", str(out)],
        capture_output=True,
        text=True,
        env=full,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    text = (out / f"{pipeline}.yaml").read_text(encoding="utf-8")
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return _compile(tmp_path_factory.mktemp("kube"))


@pytest.fixture(scope="module")
def platform(documents: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(documents) == 2, "the compiled YAML must carry a PlatformSpec document"
    executors: dict[str, Any] = documents[1]["platforms"]["kubernetes"]["deploymentSpec"][
        "executors"
    ]
    return executors


def _quantity(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(m|Mi|Gi|)", text).groups()  # type: ignore[union-attr]
    return float(number) * _QUANTITY[unit]


def test_every_step_has_platform_settings(platform: dict[str, Any]) -> None:
    assert set(platform) == {f"exec-{step}" for step in TRAINING_STEPS}


@pytest.mark.parametrize("step", TRAINING_STEPS)
def test_step_settings(platform: dict[str, Any], step: str) -> None:
    spec = platform[f"exec-{step}"]
    settings = STEPS[step]
    assert spec["activeDeadlineSeconds"] == str(settings.timeout_seconds)
    assert spec["securityContext"] == {
        "runAsUser": str(RUN_AS_USER),
        "runAsGroup": str(RUN_AS_USER),
        "runAsNonRoot": True,
    }
    assert spec["imagePullPolicy"] == "IfNotPresent"
    assert spec["emptyDirMounts"] == [
        {"mountPath": "/tmp", "sizeLimit": "1Gi", "volumeName": "tmp"}
    ]
    assert spec["podMetadata"]["labels"] == {
        "app.kubernetes.io/part-of": "samdops",
        ROLE_LABEL: settings.role,
    }
    config_maps = [c["configMapName"] for c in spec["configMapAsEnv"]]
    assert config_maps == [RUNTIME_CONFIG_MAP, f"samdops-role-{step}"]
    assert all(c["optional"] is False for c in spec["configMapAsEnv"])
    assert "secretAsEnv" not in spec and "secretAsVolume" not in spec


def test_every_step_role_has_a_vault_policy() -> None:
    policies = REPO / "manifests" / "vault"
    for settings in STEPS.values():
        assert (policies / f"samdops-{settings.role}.hcl").is_file(), settings.role


@pytest.mark.parametrize("step", TRAINING_STEPS)
def test_resources_requests_within_limits(documents: list[dict[str, Any]], step: str) -> None:
    resources = documents[0]["deploymentSpec"]["executors"][f"exec-{step}"]["container"][
        "resources"
    ]
    settings = STEPS[step]
    assert resources["resourceCpuRequest"] == settings.cpu_request
    assert resources["resourceCpuLimit"] == settings.cpu_limit
    assert resources["resourceMemoryRequest"] == settings.memory_request
    assert resources["resourceMemoryLimit"] == settings.memory_limit
    assert _quantity(settings.cpu_request) <= _quantity(settings.cpu_limit)
    assert _quantity(settings.memory_request) <= _quantity(settings.memory_limit)


def test_pipeline_root_is_s3(documents: list[dict[str, Any]]) -> None:
    assert documents[0]["defaultPipelineRoot"] == DEFAULT_PIPELINE_ROOT


def test_pipeline_root_from_environment(tmp_path: Path) -> None:
    docs = _compile(tmp_path, **{PIPELINE_ROOT_ENV: "s3://hospital-a-kfp/root"})
    assert docs[0]["defaultPipelineRoot"] == "s3://hospital-a-kfp/root"


def test_pipeline_root_must_be_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PIPELINE_ROOT_ENV, "/tmp/root")
    with pytest.raises(ConfigError, match=r"^SAMDOPS_PIPELINE_ROOT must be an s3:// URI"):
        pipeline_root()


def test_every_executor_image_is_pinned(documents: list[dict[str, Any]]) -> None:
    executors = documents[0]["deploymentSpec"]["executors"]
    images = {e["container"]["image"] for e in executors.values() if "container" in e}
    assert images == {PINNED} and all(is_pinned(i) for i in images)


_SECRETISH = re.compile(
    r"(password|passwd|secret_?key|access_?key|token|credential|BEGIN [A-Z ]*PRIVATE KEY"
    r"|AKIA[0-9A-Z]{16}|hvs\.[A-Za-z0-9]{20,})",
    re.IGNORECASE,
)


def test_no_secret_values_in_the_compiled_pipeline(documents: list[dict[str, Any]]) -> None:
    all_executors = documents[0]["deploymentSpec"]["executors"]
    executors = {n: e for n, e in all_executors.items() if "container" in e}
    assert set(executors) == {f"exec-{step}" for step in TRAINING_STEPS}
    for executor in executors.values():
        assert "env" not in executor["container"], "env values belong in ConfigMaps or Vault"
    inputs = documents[0]["root"]["inputDefinitions"]["parameters"]
    assert not any(_SECRETISH.search(name) for name in inputs)
    # Outside the component source code (which names the secrets library), nothing secret-like.
    scrubbed = yaml.safe_dump(
        [
            {k: v for k, v in documents[0].items() if k != "deploymentSpec"},
            documents[1],
            {n: e["container"].get("args") for n, e in executors.items()},
        ]
    )
    assert not _SECRETISH.search(scrubbed), _SECRETISH.search(scrubbed)


def test_retraining_pipeline_carries_settings_for_every_step(tmp_path: Path) -> None:
    documents = _compile(tmp_path, "samdops-retraining")
    platform = documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    containers = {
        n for n, e in documents[0]["deploymentSpec"]["executors"].items() if "container" in e
    }
    assert (
        set(platform)
        == containers
        == {f"exec-{s}" for s in ("ingest", "validate", "train", "evaluate", "pccp-gate")}
        | {"exec-register-candidate"}
    )
    assert documents[0]["defaultPipelineRoot"].startswith("s3://")
    gate_maps = [c["configMapName"] for c in platform["exec-pccp-gate"]["configMapAsEnv"]]
    assert STEPS["pccp-gate"].role_config_map in gate_maps


# -- the monitoring pipeline --------------------------------------------------------------------

MONITORING_STEPS = ("fetch-window", "drift-monitor", "record-alerts")
RETRAINING_STEPS = ("ingest", "validate", "train", "evaluate", "pccp-gate", "register-candidate")


@pytest.fixture(scope="module")
def monitoring(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return _compile(tmp_path_factory.mktemp("monitoring"), "samdops-monitoring")


@pytest.mark.parametrize("step", MONITORING_STEPS)
def test_monitoring_steps_run_as_the_drift_monitor(
    monitoring: list[dict[str, Any]], step: str
) -> None:
    platform = monitoring[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    spec, settings = platform[f"exec-{step}"], STEPS[step]
    assert settings.role == "drift-monitor"
    assert spec["podMetadata"]["labels"][ROLE_LABEL] == "drift-monitor"
    maps = [c["configMapName"] for c in spec["configMapAsEnv"]]
    assert maps == [RUNTIME_CONFIG_MAP, "samdops-role-drift-monitor"]
    assert spec["activeDeadlineSeconds"] == str(settings.timeout_seconds)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert "secretAsEnv" not in spec and "secretAsVolume" not in spec
    resources = monitoring[0]["deploymentSpec"]["executors"][f"exec-{step}"]["container"][
        "resources"
    ]
    assert resources["resourceMemoryLimit"] == settings.memory_limit
    assert _quantity(settings.cpu_request) <= _quantity(settings.cpu_limit)
    assert _quantity(settings.memory_request) <= _quantity(settings.memory_limit)


def test_drift_monitor_is_sized_for_a_500_bed_day() -> None:
    # 500 beds x 24 h = 12,000 hourly rows of ~40 columns, scored by the model, against a
    # reference of weeks: a few hundred MB at most; 4 GiB leaves room for the reference.
    assert _quantity(STEPS["drift-monitor"].memory_limit) >= 4 * 2**30
    assert STEPS["drift-monitor"].timeout_seconds >= 1800


def test_monitoring_pipeline_carries_settings_for_every_step(
    monitoring: list[dict[str, Any]],
) -> None:
    platform = monitoring[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    containers = {
        n for n, e in monitoring[0]["deploymentSpec"]["executors"].items() if "container" in e
    }
    expected = {f"exec-{s}" for s in (*MONITORING_STEPS, *RETRAINING_STEPS)}
    assert set(platform) == containers == expected
    images = {
        e["container"]["image"]
        for e in monitoring[0]["deploymentSpec"]["executors"].values()
        if "container" in e
    }
    assert images == {PINNED}


def test_monitoring_pipeline_has_no_step_that_can_release(
    monitoring: list[dict[str, Any]],
) -> None:
    """Statically: retraining runs only behind the alert's condition and ends in a candidate
    registration; no executor's code can make a release (that takes people's signatures)."""
    spec = monitoring[0]
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"fetch-window", "drift-monitor", "record-alerts", "condition-1"}
    condition = tasks["condition-1"]
    assert condition["taskInfo"]["name"] == "critical-alert-retrain"
    assert condition["triggerPolicy"]["condition"] == (
        "inputs.parameter_values['pipelinechannel--record-alerts-Output'] == 'retrain'"
    )
    inner = spec["components"]["comp-condition-1"]["dag"]["tasks"]
    assert [t["componentRef"]["name"] for t in inner.values()] == ["comp-samdops-retraining"]
    retraining = spec["components"]["comp-samdops-retraining"]["dag"]["tasks"]
    assert "register-candidate" in retraining and "register" not in retraining
    for name, executor in spec["deploymentSpec"]["executors"].items():
        code = " ".join(executor.get("container", {}).get("command", []))
        for releasing in (
            "State.RELEASED",
            ".transition(",
            "Permission.RELEASE",
            "RELEASE_MANAGER",
        ):
            assert releasing not in code, (name, releasing)


def test_monitoring_parameters_hold_no_secret(monitoring: list[dict[str, Any]]) -> None:
    inputs = monitoring[0]["root"]["inputDefinitions"]["parameters"]
    assert {"model_ref", "state", "retrain_plan_id"} <= set(inputs)
    assert not any(_SECRETISH.search(name) for name in inputs)
