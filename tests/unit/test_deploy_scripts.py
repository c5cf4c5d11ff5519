"""The scripts behind `make kind-up` and `make deploy` refuse what cannot work, in one line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPTS = REPO / "scripts"
ZERO = "0" * 64


def _bin(tmp_path: Path, *fakes: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "env", "cat", "grep"):
        found = shutil.which(tool)
        assert found
        (bin_dir / tool).symlink_to(found)
    for fake in fakes:
        path = bin_dir / fake
        path.write_text("#!/bin/sh\nexit 1\n")
        path.chmod(0o755)
    return str(bin_dir)


def _run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / script)], capture_output=True, text=True, env=env, check=False
    )


def test_kind_up_without_docker(tmp_path: Path) -> None:
    done = _run("kind-up.sh", {"PATH": _bin(tmp_path), "HOME": str(tmp_path)})
    assert done.returncode == 1
    assert done.stderr.startswith("make kind-up: docker is not installed; kind needs docker")


def test_kind_up_with_a_docker_client_but_no_daemon(tmp_path: Path) -> None:
    done = _run("kind-up.sh", {"PATH": _bin(tmp_path, "docker"), "HOME": str(tmp_path)})
    assert done.returncode == 1
    assert done.stderr == "make kind-up: docker is installed but its daemon is not reachable\n"


def test_kind_up_unknown_cluster(tmp_path: Path) -> None:
    env = {"PATH": _bin(tmp_path), "HOME": str(tmp_path), "CLUSTER": "k3d"}
    done = _run("kind-up.sh", env)
    assert done.stderr == "make kind-up: CLUSTER must be kind or minikube; got 'k3d'\n"


@pytest.mark.parametrize(
    ("minio", "message"),
    [
        ("", "make deploy: set SAMDOPS_MINIO_IMAGE to an image pinned by digest"),
        ("minio/minio:latest", "make deploy: set SAMDOPS_MINIO_IMAGE to an image pinned by digest"),
        (f"minio/minio@sha256:{ZERO}", "make deploy: set SAMDOPS_MINIO_IMAGE to an image pinned"),
    ],
)
def test_deploy_refuses_images_not_pinned_or_placeholders(
    tmp_path: Path, minio: str, message: str
) -> None:
    env = {
        "PATH": _bin(tmp_path),
        "HOME": str(tmp_path),
        "SAMDOPS_MINIO_IMAGE": minio,
        "SAMDOPS_MC_IMAGE": "minio/mc@sha256:" + "1" * 64,
        "SAMDOPS_VAULT_IMAGE": "hashicorp/vault@sha256:" + "2" * 64,
    }
    done = _run("deploy.sh", env)
    assert done.returncode == 1
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1


def test_deploy_refuses_a_component_image_that_exists_only_on_this_machine(
    tmp_path: Path,
) -> None:
    """Without a registry, `make images` records localhost/NAME@...: no cluster can pull it."""
    local = "localhost/samdops-component@sha256:" + "3" * 64
    env = {
        "PATH": _bin(tmp_path),
        "HOME": str(tmp_path),
        "PY": sys.executable,
        "SAMDOPS_COMPONENT_IMAGE": local,
        "SAMDOPS_MINIO_IMAGE": "minio/minio@sha256:" + "4" * 64,
        "SAMDOPS_MC_IMAGE": "minio/mc@sha256:" + "1" * 64,
        "SAMDOPS_VAULT_IMAGE": "hashicorp/vault@sha256:" + "2" * 64,
    }
    done = _run("deploy.sh", env)
    assert done.returncode == 1
    assert done.stderr == (
        f"make deploy: the component image {local} exists only on this machine; push it with "
        "SAMDOPS_REGISTRY=localhost:5001 make images (after make kind-up)\n"
    )
