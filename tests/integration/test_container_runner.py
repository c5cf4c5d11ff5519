"""kfp.local steps in real containers (podman's Docker API), through samdops' reliable runner.

The session's podman API service (``podman_api`` in conftest) runs the component image that
`make images` built.
"""

# No `from __future__ import annotations`: kfp reads the components' annotations as types.
import contextlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kfp import dsl, local
from kfp.dsl import Artifact, Input, Output

from samdops.cluster.images import component_image
from samdops.errors import ConfigError
from samdops.launch.containers import (
    container_runner,
    prepare_pipeline_root,
    reliable_containers,
    require_image,
)

pytestmark = pytest.mark.slow

IMAGE = component_image()
MARKER = "/tmp/samdops-first-step-was-here"


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def first_step(out: Output[Artifact]) -> str:
    """Write the artifact and a file in this container's own /tmp; report who ran it."""
    import json
    import os
    import pathlib

    pathlib.Path("/tmp/samdops-first-step-was-here").write_text("first")
    with open(out.path, "w", encoding="utf-8") as f:
        f.write("payload from the first step")
    print("first step: artifact written", flush=True)
    return json.dumps({"uid": os.getuid(), "hostname": os.uname().nodename})


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def second_step(data: Input[Artifact], first: str) -> str:
    """Read the first step's artifact; report whether the first step's /tmp file is visible."""
    import json
    import os
    import pathlib

    print("second step: reading the artifact", flush=True)
    return json.dumps(
        {
            "content": pathlib.Path(data.path).read_text(encoding="utf-8"),
            "sees_first_tmp": pathlib.Path("/tmp/samdops-first-step-was-here").exists(),
            "uid": os.getuid(),
            "hostname": os.uname().nodename,
            "first": json.loads(first),
        }
    )


@dsl.pipeline(name="samdops-two-containers")
def two_steps() -> str:
    first = first_step()
    second = second_step(data=first.outputs["out"], first=first.outputs["Output"])
    return second.output


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def failing_step() -> None:
    print("failing step: about to exit with status 3", flush=True)
    raise SystemExit(3)


@dsl.pipeline(name="samdops-failing-container")
def failing() -> None:
    failing_step()


@pytest.fixture
def docker_host(podman_api: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DOCKER_HOST", podman_api)
    return podman_api


def _labelled_runner(label: str) -> local.DockerRunner:
    """The production runner, with a label so that the test can find its own containers."""
    runner = container_runner({"SAMDOPS_TEST_LABEL": label})
    runner.container_run_args["labels"] = {"samdops.test": label}
    return runner


def _leftover_containers(url: str, label: str) -> list[Any]:
    import docker

    client = docker.DockerClient(base_url=url)
    try:
        return list(client.containers.list(all=True, filters={"label": f"samdops.test={label}"}))
    finally:
        client.close()


def test_two_steps_run_in_separate_containers_and_pass_the_artifact(
    docker_host: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    label = uuid.uuid4().hex
    root = prepare_pipeline_root(tmp_path / "pipeline-root")
    with reliable_containers(image=IMAGE):
        local.init(runner=_labelled_runner(label), pipeline_root=str(root), raise_on_error=True)
        started = time.monotonic()
        task = two_steps()
        seconds = time.monotonic() - started
    result = json.loads(task.output)
    assert result["content"] == "payload from the first step"
    assert result["sees_first_tmp"] is False  # the first step's /tmp stayed in its container
    assert result["uid"] == result["first"]["uid"] == 10001  # the image's user, not the host's
    runs = list(root.glob("samdops-two-containers-*"))
    assert len(runs) == 1
    outputs = sorted(p.parent.name for p in runs[0].glob("*/executor_output.json"))
    assert outputs == ["first-step", "second-step"]
    out = capsys.readouterr().out
    assert "first step: artifact written" in out and "second step: reading the artifact" in out
    assert _leftover_containers(docker_host, label) == []
    with capsys.disabled():
        print(f"\ntwo-step pipeline in containers: {seconds:.1f} s")


def test_a_failing_step_fails_the_run(
    docker_host: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """kfp's own runner reports this step (exit status 3) as SUCCESS; ours must not."""
    label = uuid.uuid4().hex
    root = prepare_pipeline_root(tmp_path / "pipeline-root")
    with reliable_containers(image=IMAGE):
        local.init(runner=_labelled_runner(label), pipeline_root=str(root), raise_on_error=True)
        with pytest.raises(RuntimeError, match="FAILURE"):
            failing()
    assert "failing step: about to exit with status 3" in capsys.readouterr().out
    assert _leftover_containers(docker_host, label) == []


def test_the_patch_is_restored_on_exit(docker_host: str) -> None:
    from kfp.local import docker_task_handler

    original = docker_task_handler.run_docker_container
    with contextlib.suppress(KeyError), reliable_containers():
        assert docker_task_handler.run_docker_container is not original
        raise KeyError("leaves the block with an error")
    assert docker_task_handler.run_docker_container is original


def test_a_missing_local_image_says_to_build_it(docker_host: str) -> None:
    missing = "localhost/samdops-component@sha256:" + "0" * 64
    with pytest.raises(ConfigError, match=r"make images"):
        reliable_containers(image=missing).__enter__()


def test_require_image_accepts_the_built_image(docker_host: str) -> None:
    import docker

    client = docker.DockerClient(base_url=docker_host)
    try:
        require_image(client, IMAGE)
    finally:
        client.close()
