"""Compile the pipelines to Kubeflow Pipelines IR YAML, deterministically."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml

from samdops.atomic import atomic_write_bytes
from samdops.cluster.images import component_image, is_pinned, require_pinned
from samdops.errors import PipelineError


def executor_images(spec_yaml: bytes) -> dict[str, str]:
    """The image of every container executor in a compiled pipeline spec."""
    documents = [d for d in yaml.safe_load_all(spec_yaml) if d]
    executors = documents[0].get("deploymentSpec", {}).get("executors", {})
    return {
        name: str(executor["container"]["image"])
        for name, executor in executors.items()
        if "container" in executor
    }


def check_release_images(spec_yaml: bytes, pipeline: str) -> None:
    """Raise unless every executor of the compiled pipeline runs an image pinned by digest."""
    unpinned = {k: v for k, v in executor_images(spec_yaml).items() if not is_pinned(v)}
    if unpinned:
        listed = ", ".join(f"{k}: {v}" for k, v in sorted(unpinned.items()))
        raise PipelineError(f"{pipeline}: executors with images not pinned by digest: {listed}")


# name -> module of samdops.pipelines defining it; each module is imported only when its
# pipeline is compiled (defining a pipeline builds its components: a few tenths of a second).
PIPELINES = {
    "samdops-training": "training",
    "samdops-retraining": "retraining",
    "samdops-monitoring": "monitoring",
}


def _pipeline(name: str) -> Any:
    import importlib

    if name not in PIPELINES:
        raise PipelineError(f"no pipeline named {name!r}; known: {', '.join(sorted(PIPELINES))}")
    module = importlib.import_module(f"samdops.pipelines.{PIPELINES[name]}")
    if name != module.PIPELINE_NAME:
        raise PipelineError(f"samdops.pipelines.{PIPELINES[name]} defines {module.PIPELINE_NAME}")
    return getattr(module, f"{PIPELINES[name]}_pipeline")


def compile_pipeline(name: str) -> bytes:
    """The IR YAML of pipeline ``name``, deterministic for the same code and image."""
    from kfp import compiler

    pipeline = _pipeline(name)
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp) / f"{name}.yaml"
        compiler.Compiler().compile(pipeline, str(staging))
        return staging.read_bytes()


def compile_all(out_dir: str | Path, *, release: bool = False) -> list[Path]:
    """Compile every pipeline into ``out_dir``; with ``release``, refuse unpinned images."""
    if release:
        require_pinned(component_image())
    written = []
    for name in PIPELINES:
        data = compile_pipeline(name)
        if release:
            check_release_images(data, name)
        target = Path(out_dir) / f"{name}.yaml"
        atomic_write_bytes(target, data)
        written.append(target)
    return written
