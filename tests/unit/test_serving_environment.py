"""The serving environment: its lock (requirements/serving.lock), its image, and its reference.

The model server runs on the KServe SDK, which needs Pillow>=12.3; alibi-detect's pins exclude
that, so serving has its own lock, venv and image, without the pipeline's heavy or restrictively
licensed packages.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from samdops.cluster import images
from samdops.errors import ConfigError
from tests.conftest import REPO

REQUIREMENTS = REPO / "requirements"
SERVING_LOCK = REQUIREMENTS / "serving.lock"
DOCKERFILE = REPO / "images" / "serving.Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"
# Not in the serving environment: deepchecks is AGPL-3.0, alibi-detect BSL 1.1; the others are
# the pipeline's (kfp, scikit-learn, river) or far too large for a model server (torch, TF).
LEFT_OUT = (
    "deepchecks",
    "alibi-detect",
    "kfp",
    "kfp-kubernetes",
    "kfp-pipeline-spec",
    "kfp-server-api",
    "scikit-learn",
    "river",
    "torch",
    "tensorflow",
    "tensorflow-cpu",
)
# A served score must equal the batch pipeline's to the last bit: the model's library and the
# libraries its input frame is built with are the pipeline's exact versions.
SAME_AS_PIPELINE = ("xgboost-cpu", "numpy", "pandas")


def _lock_entries(path: Path) -> dict[str, tuple[str, str]]:
    sys.path.insert(0, str(REPO / "images"))
    try:
        import runtime_lock
    finally:
        sys.path.pop(0)
    entries: dict[str, tuple[str, str]] = runtime_lock.lock_entries(path.read_text("utf-8"))
    return entries


def _versions(path: Path) -> dict[str, str]:
    return {name: version for name, (version, _) in _lock_entries(path).items()}


def test_the_lock_holds_kserve_and_none_of_the_left_out_packages() -> None:
    versions = _versions(SERVING_LOCK)
    assert versions["kserve"] == "0.21.0"
    assert [name for name in LEFT_OUT if name in versions] == []
    assert int(versions["pillow"].split(".")[0]) >= 12  # the reason for a lock of its own


def test_the_model_libraries_are_the_pipelines_exact_versions() -> None:
    serving, app = _versions(SERVING_LOCK), _versions(REQUIREMENTS / "app.lock")
    for name in SAME_AS_PIPELINE:
        assert serving[name] == app[name], name


def test_every_entry_is_hashed_and_the_lock_names_no_index() -> None:
    text = SERVING_LOCK.read_text("utf-8")
    for name, (_, body) in _lock_entries(SERVING_LOCK).items():
        assert "--hash=sha256:" in body, name
    assert "://" not in text
    assert not re.search(r"^\s*--(index-url|extra-index-url|find-links)", text, re.M)


def test_the_lock_is_what_make_lock_writes_from_serving_in() -> None:
    header = SERVING_LOCK.read_text("utf-8").splitlines()[1].lstrip("# ").strip()
    makefile = (REPO / "Makefile").read_text("utf-8").replace("\\\n", " ")
    commands = [" ".join(line.split()) for line in makefile.splitlines() if "serving.in" in line]
    assert header in commands
    # Every pin of serving.in is the lock's.
    versions = _versions(SERVING_LOCK)
    pins = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", (REQUIREMENTS / "serving.in").read_text(), re.M)
    assert pins
    for name, version in pins:
        assert versions[re.sub(r"[-_.]+", "-", name).lower()] == version, name


def test_build_and_serving_locks_agree_on_what_both_hold() -> None:
    # .venv-serving installs build.lock, then serving.lock, into one venv (--no-deps).
    serving, build = _versions(SERVING_LOCK), _versions(REQUIREMENTS / "build.lock")
    assert {name: serving[name] for name in build if name in serving} == {
        name: version for name, version in build.items() if name in serving
    }


def test_hadolint_is_clean_on_the_serving_dockerfile() -> None:
    done = subprocess.run(
        [str(HADOLINT), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _stages(text: str) -> list[list[str]]:
    stages: list[list[str]] = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            if line.upper().startswith("FROM "):
                stages.append([])
            if stages:
                stages[-1].append(line)
    return stages


def test_the_image_installs_the_serving_lock_offline_as_wheels_and_runs_the_server() -> None:
    text = DOCKERFILE.read_text("utf-8")
    assert re.search(r"^ARG BASE_IMAGE$", text, re.M)
    build, final = _stages(text)
    assert [build[0], final[0]] == ["FROM ${BASE_IMAGE} AS build", "FROM ${BASE_IMAGE} AS runtime"]
    installs = re.findall(r"pip install ([^&]+)", " ".join(build))
    assert len(installs) == 2
    assert all(flag in installs[0] for flag in ("--require-hashes", "--no-deps", "--no-index"))
    assert "--only-binary=:all:" in installs[0] and "--no-binary" not in text
    assert "-r requirements/serving.lock" in installs[0]
    assert "requirements/runtime.lock" not in text and "app.lock" not in text
    assert "/wheels/samdops-*.whl" in installs[1] and "--no-deps" in installs[1]
    assert "/opt/venv/bin/python -m pip uninstall --yes pip" in " ".join(build)
    assert "USER 10001:10001" in final
    assert "COPY --from=build /opt/venv /opt/venv" in final
    assert not re.search(r"\bpip\b.*install", "\n".join(final))
    assert final[-1] == 'CMD ["python", "-m", "samdops.serving"]'
    lines = (REPO / ".dockerignore").read_text("utf-8").splitlines()
    assert "!requirements/serving.lock" in lines


def test_serving_image_comes_from_the_override_then_the_digests_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "digests.lock"
    monkeypatch.setattr(images, "DIGESTS_LOCK", lock)
    monkeypatch.delenv("SAMDOPS_SERVING_IMAGE", raising=False)
    monkeypatch.delenv("SAMDOPS_COMPONENT_IMAGE", raising=False)
    assert images.serving_image() == images.DEV_SERVING_IMAGE
    component = "localhost/samdops-component@sha256:" + "c" * 64
    serving = "localhost/samdops-serving@sha256:" + "a" * 64
    lock.write_text(json.dumps({"component": component, "serving": serving}))
    assert (images.component_image(), images.serving_image()) == (component, serving)
    monkeypatch.setenv("SAMDOPS_SERVING_IMAGE", "localhost:5001/samdops-serving@sha256:" + "b" * 64)
    assert images.serving_image() == "localhost:5001/samdops-serving@sha256:" + "b" * 64
    assert images.component_image() == component


def test_a_digests_lock_without_the_serving_key_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "digests.lock"
    lock.write_text(json.dumps({"component": "localhost/samdops-component@sha256:" + "c" * 64}))
    monkeypatch.setattr(images, "DIGESTS_LOCK", lock)
    monkeypatch.delenv("SAMDOPS_SERVING_IMAGE", raising=False)
    with pytest.raises(
        ConfigError, match=r"is not valid: 'serving'; rebuild it with `make images`"
    ):
        images.serving_image()
