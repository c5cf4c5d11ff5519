"""Compiled pipelines: byte-identical, lightweight components on one image, pinned for release."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from samdops.cluster.images import DEV_IMAGE, is_pinned, require_pinned
from samdops.errors import PipelineError
from samdops.launch.compiler import check_release_images, executor_images

PINNED = "registry.example/samdops/component@sha256:" + "a" * 64
STEPS = {"exec-ingest", "exec-validate", "exec-train", "exec-evaluate", "exec-register"}


def _compile(out: Path, *args: str, image: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SAMDOPS_COMPONENT_IMAGE"}
    if image:
        env["SAMDOPS_COMPONENT_IMAGE"] = image
    return subprocess.run(
        [sys.executable, "-m", "samdops.cli", "compile", "--out", str(out), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    base = tmp_path_factory.mktemp("compiled")
    for name in ("a", "b"):
        assert _compile(base / name, image=PINNED).returncode == 0
    return (
        (base / "a" / "samdops-training.yaml").read_bytes(),
        (base / "b" / "samdops-training.yaml").read_bytes(),
    )


def test_two_compiles_are_byte_identical(compiled: tuple[bytes, bytes]) -> None:
    assert compiled[0] == compiled[1]


def test_every_step_runs_the_configured_image_without_installing(
    compiled: tuple[bytes, bytes],
) -> None:
    images = executor_images(compiled[0])
    assert set(images) == STEPS
    assert set(images.values()) == {PINNED}
    spec = next(yaml.safe_load_all(compiled[0]))
    for name in STEPS:
        command = " ".join(spec["deploymentSpec"]["executors"][name]["container"]["command"])
        assert "pip install" not in command
        assert "kfp.dsl.executor_main" in command


def test_dag_order(compiled: tuple[bytes, bytes]) -> None:
    tasks = next(yaml.safe_load_all(compiled[0]))["root"]["dag"]["tasks"]
    deps = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
    assert deps["ingest"] == {"importer"}
    assert deps["validate"] == {"ingest"}
    assert deps["train"] == {"ingest", "validate"}
    assert deps["evaluate"] == {"ingest", "train"}
    assert {"ingest", "validate", "train", "evaluate"} <= deps["register"]


def test_release_compile_refuses_an_unpinned_image(tmp_path: Path) -> None:
    done = _compile(tmp_path, "--release", image="samdops/component:latest")
    assert done.returncode == 2
    assert done.stderr == (
        "samdops: error: image 'samdops/component:latest' is not pinned by digest; a release "
        "needs name@sha256:<64 hex> (set SAMDOPS_COMPONENT_IMAGE or run `make images`)\n"
    )
    assert not (tmp_path / "samdops-training.yaml").exists()


def test_release_check_reads_every_executor(compiled: tuple[bytes, bytes]) -> None:
    check_release_images(compiled[0], "samdops-training")
    tampered = compiled[0].replace(PINNED.encode(), DEV_IMAGE.encode(), 1)
    with pytest.raises(PipelineError, match=r"^samdops-training: executors with images not pinned"):
        check_release_images(tampered, "samdops-training")


def test_pinning_rule() -> None:
    assert is_pinned(PINNED)
    assert not is_pinned(DEV_IMAGE)
    assert not is_pinned("x@sha256:" + "A" * 64)
    assert not is_pinned("x@sha256:" + "a" * 63)
    with pytest.raises(PipelineError):
        require_pinned("python:3.11")


def test_every_step_is_told_its_state_run_and_image() -> None:
    """Each step's audit events need the state location, the run and the image (issue #18):
    every task of every pipeline gets them, the state and run from the pipeline's parameters
    and, as the image, the one its executor runs."""
    from samdops.launch.compiler import PIPELINES, compile_pipeline

    for pipeline in sorted(PIPELINES):
        spec = next(yaml.safe_load_all(compile_pipeline(pipeline)))
        executors = spec["deploymentSpec"]["executors"]
        dags = [spec["root"]["dag"]] + [c["dag"] for c in spec["components"].values() if "dag" in c]
        steps = 0
        for dag in dags:
            for name, task in dag["tasks"].items():
                component = spec["components"][task["componentRef"]["name"]]
                executor = executors.get(component.get("executorLabel", ""), {})
                if "container" not in executor:
                    continue  # the importer, a condition branch or a sub-pipeline
                given = task["inputs"]["parameters"]
                image = given["image"]["runtimeValue"]["constant"]
                assert image == executor["container"]["image"], f"{pipeline}/{name}"
                for parameter in ("state", "run"):
                    assert "componentInputParameter" in given[parameter], f"{pipeline}/{name}"
                steps += 1
        assert steps == {"samdops-training": 5, "samdops-retraining": 6}.get(pipeline, 9)
