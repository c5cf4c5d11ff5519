"""What a step container inherits from the launcher, and the runner's offline checks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from samdops.errors import ConfigError
from samdops.launch.containers import (
    HOST_ONLY,
    docker_client,
    prepare_pipeline_root,
    reliable_containers,
    step_environment,
)

HOST_VARS = {
    "SAMDOPS_HOME": "/host/home",
    "SAMDOPS_COMPONENT_IMAGE": "localhost/x@sha256:" + "0" * 64,
    "SAMDOPS_PIPELINE_ROOT": "s3://bucket/v2",
    "SAMDOPS_KFP_HOST": "http://127.0.0.1:8888",
    "SAMDOPS_VAULT_POLICIES": "/host/policies",
    "SAMDOPS_GIT_COMMIT": "0123abc",  # the image's own build identity wins
    "SAMDOPS_LOCK_SHA256": "f" * 64,
}
STEP_VARS = {
    "SAMDOPS_SIEM": "http://127.0.0.1:9000/events",
    "SAMDOPS_S3_ENDPOINT": "http://127.0.0.1:9001",
    "SAMDOPS_STATE": "s3://records/samdops",
    "SAMDOPS_SOMETHING_NEW": "yes",
    "VAULT_ADDR": "http://127.0.0.1:8200",
    "VAULT_TOKEN": "hvs.not-a-real-token",
    "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(("SAMDOPS_", "VAULT_")) or name in ("SSL_CERT_FILE", "DOCKER_HOST"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_step_vars_are_passed_and_host_only_vars_are_not(clean_env: pytest.MonkeyPatch) -> None:
    for name, value in {**HOST_VARS, **STEP_VARS, "HOME": "/root", "PATH": "/bin"}.items():
        clean_env.setenv(name, value)
    assert step_environment() == STEP_VARS


def test_every_host_only_name_is_a_samdops_setting() -> None:
    assert set(HOST_VARS) == HOST_ONLY


def test_empty_variables_count_as_unset(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SAMDOPS_SIEM", "")
    clean_env.setenv("VAULT_ADDR", "")
    assert step_environment() == {}


def test_paths_outside_the_pipeline_root_are_refused(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    clean_env.setenv("SAMDOPS_ERROR_FILE", str(root / "errors.jsonl"))
    clean_env.setenv("SAMDOPS_STATE", str(root / "state"))
    assert set(step_environment(pipeline_root=root)) == {"SAMDOPS_ERROR_FILE", "SAMDOPS_STATE"}
    clean_env.setenv("SAMDOPS_ERROR_FILE", str(tmp_path / "errors.jsonl"))
    with pytest.raises(ConfigError, match=r"^\$SAMDOPS_ERROR_FILE points outside"):
        step_environment(pipeline_root=root)


def test_no_docker_host_says_how_to_start_one(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"podman --runtime runc system service"):
        docker_client()
    with pytest.raises(ConfigError, match="DOCKER_HOST="):
        reliable_containers().__enter__()


def test_a_silent_docker_host_is_a_config_error(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("DOCKER_HOST", f"unix://{tmp_path / 'nothing.sock'}")
    with pytest.raises(ConfigError, match="does not answer"):
        docker_client()


def test_pipeline_root_is_writable_by_the_image_user(tmp_path: Path) -> None:
    root = prepare_pipeline_root(tmp_path / "a" / "root")
    assert root.is_dir() and root.is_absolute()
    info = root.stat()
    if os.geteuid() == 0:
        assert info.st_uid == 10001
    else:
        assert stat.S_IMODE(info.st_mode) == 0o777
