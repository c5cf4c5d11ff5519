"""The serving image that `make images` built, run with podman: what is in it, and as whom.

The image (``serving_image()``: ``$SAMDOPS_SERVING_IMAGE`` or the ``serving`` key of
images/digests.lock) runs with the runc runtime, explicit ulimits and host networking, as the
component image's containers run here (see images/smoke.sh).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from samdops.cluster.images import serving_image
from samdops.digest import sha256_file
from tests.conftest import REPO

pytestmark = pytest.mark.slow

PODMAN = ["podman", "--runtime", "runc"]
RUN = [*PODMAN, "run", "--rm", "--network", "host"]
RUN += ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]
LEFT_OUT = ("deepchecks", "alibi_detect", "kfp", "sklearn", "river")
# Run inside the image: prints one JSON object (warnings, if any, go to stderr).
PROBE = f"""
import importlib, importlib.metadata as md, json, os, shutil
import kserve, samdops.governance.service
errors = {{}}
for name in {LEFT_OUT!r}:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        errors[name] = [type(exc).__name__, exc.name]
    else:
        errors[name] = None
print(json.dumps({{
    "uid": os.getuid(),
    "gid": os.getgid(),
    "versions": {{d: md.version(d) for d in ("kserve", "xgboost-cpu", "numpy", "pandas")}},
    "left_out": errors,
    "pip": shutil.which("pip") or importlib.util.find_spec("pip") is not None,
}}))
"""


def _app_lock_version(name: str) -> str:
    match = next(
        line
        for line in (REPO / "requirements" / "app.lock").read_text("utf-8").splitlines()
        if line.startswith(f"{name}==")
    )
    return match.split("==", 1)[1].split()[0]


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: apt-get install -y podman runc debootstrap")
    reference = serving_image()
    if subprocess.run(["podman", "image", "exists", reference], check=False).returncode != 0:
        pytest.fail(f"the serving image {reference} is not built: run `make images`")
    return reference


@pytest.fixture(scope="module")
def probe(image: str) -> dict[str, Any]:
    done = subprocess.run(
        [*RUN, image, "python", "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_kserve_imports_at_the_locked_version(probe: dict[str, Any]) -> None:
    assert probe["versions"]["kserve"] == "0.21.0"


def test_deepchecks_alibi_detect_and_the_pipeline_packages_are_absent(
    probe: dict[str, Any],
) -> None:
    assert probe["left_out"] == {name: ["ModuleNotFoundError", name] for name in LEFT_OUT}


def test_the_model_libraries_are_the_pipelines_versions(probe: dict[str, Any]) -> None:
    for name in ("xgboost-cpu", "numpy", "pandas"):
        assert probe["versions"][name] == _app_lock_version(name), name


def test_it_runs_as_10001_without_pip(image: str, probe: dict[str, Any]) -> None:
    assert (probe["uid"], probe["gid"]) == (10001, 10001)
    assert probe["pip"] is False
    done = subprocess.run([*RUN, image, "id", "-u"], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "10001", done.stderr


def test_the_image_runs_the_model_server_and_records_its_lock(image: str) -> None:
    done = subprocess.run(
        [*PODMAN, "image", "inspect", image], capture_output=True, text=True, check=True
    )
    (inspected,) = json.loads(done.stdout)
    config = inspected["Config"]
    assert config["Cmd"] == ["python", "-m", "samdops.serving"]
    assert config["User"] == "10001:10001"
    assert config["Labels"]["org.opencontainers.image.title"] == "samdops-serving"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["SAMDOPS_LOCK_SHA256"] == sha256_file(REPO / "requirements" / "serving.lock")
