"""Run kfp.local steps in containers (``kfp.local.DockerRunner``) reliably, on podman's Docker API.

kfp 2.17.3 starts each step with ``auto_remove=True``. The container can then be gone before
``wait()`` answers, and kfp takes that for exit status 0: a step that fails is reported as
SUCCESS, and a step that succeeds can lose its log. :func:`reliable_containers` replaces kfp's
``docker_task_handler.run_docker_container`` while it is active with :func:`run_container`,
which keeps the container until its exit status and its log are read, then removes it.

Typical use::

    root = prepare_pipeline_root(run_dir / "pipeline-root")
    environment = step_environment(pipeline_root=root)
    with reliable_containers(image=component_image()):
        local.init(runner=container_runner(environment), pipeline_root=str(root))
        my_pipeline(...)

Every container runs with host networking (servers on 127.0.0.1 stay reachable) and explicit
``nofile``/``nproc`` limits (the machine refuses podman's defaults).
"""

from __future__ import annotations

import codecs
import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samdops import settings
from samdops.errors import ConfigError

if TYPE_CHECKING:
    import docker
    from kfp import local

ULIMIT = 4096  # nofile and nproc, soft = hard; must not exceed the machine's own limits
SOCKET = "unix:///tmp/samdops-podman.sock"
_START_API = (
    f"start `podman --runtime runc system service --time=0 {SOCKET}` and set DOCKER_HOST={SOCKET}"
)

# SAMDOPS_* variables that describe the host or the image, never a step's environment:
# host paths and addresses the launcher uses itself, and the image's own build identity
# (SAMDOPS_GIT_COMMIT and SAMDOPS_LOCK_SHA256 are set in the image; the host's would falsify
# the lineage a step records).
HOST_ONLY = frozenset(
    {
        settings.HOME_ENV,
        settings.IMAGE_ENV,
        settings.PIPELINE_ROOT_ENV,
        settings.KFP_HOST_ENV,
        settings.VAULT_POLICIES_ENV,
        settings.GIT_COMMIT_ENV,
        settings.LOCK_SHA256_ENV,
    }
)
_CA_FILES = ("SSL_CERT_FILE", "VAULT_CACERT")  # host files a step needs; mounted read-only


def step_environment(pipeline_root: Path | None = None) -> dict[str, str]:
    """The variables a step container gets from the launcher's environment.

    Every non-empty ``SAMDOPS_*`` variable except :data:`HOST_ONLY`, every ``VAULT_*`` variable,
    and ``SSL_CERT_FILE``. Values are secrets (``VAULT_TOKEN``) and are never logged.

    With ``pipeline_root`` (the only host directory a step sees), a path-valued setting
    (``SAMDOPS_ERROR_FILE``, a directory ``SAMDOPS_STATE``) outside it raises
    :class:`~samdops.errors.ConfigError`: the step would write to its own container's
    filesystem, and the record would be lost when the container is removed.
    """
    found: dict[str, str] = {}
    for name, value in settings.environ().items():
        if not value:
            continue
        if (name.startswith("SAMDOPS_") and name not in HOST_ONLY) or (
            name.startswith("VAULT_") or name == "SSL_CERT_FILE"
        ):
            found[name] = value
    if pipeline_root is not None:
        _check_paths_are_mounted(found, pipeline_root)
    return found


def _check_paths_are_mounted(environment: Mapping[str, str], pipeline_root: Path) -> None:
    root = pipeline_root.resolve()
    paths = {settings.ERROR_FILE_ENV: environment.get(settings.ERROR_FILE_ENV)}
    state = environment.get(settings.STATE_ENV, "")
    if state and not state.startswith("s3://"):
        paths[settings.STATE_ENV] = state.removeprefix("file://")
    for name, value in paths.items():
        if value and not Path(value).resolve().is_relative_to(root):
            raise ConfigError(
                f"${name} points outside the pipeline root {root}, the only host directory a "
                f"step container sees; put it under {root} or unset it"
            )


def container_runner(environment: Mapping[str, str]) -> local.DockerRunner:
    """A DockerRunner with host networking, the ulimits, and ``environment`` in every step.

    Use it inside :func:`reliable_containers`; without it a failed step is reported as a success.
    """
    import docker.types
    from kfp import local

    return local.DockerRunner(
        network_mode="host",
        ulimits=[
            docker.types.Ulimit(name="nofile", soft=ULIMIT, hard=ULIMIT),
            docker.types.Ulimit(name="nproc", soft=ULIMIT, hard=ULIMIT),
        ],
        environment=dict(environment),
    )


def docker_client() -> docker.DockerClient:
    """A client of ``$DOCKER_HOST`` that answered a ping; :class:`ConfigError` otherwise."""
    import docker

    host = settings.docker_host()
    if not host:
        raise ConfigError(f"the container runner needs a Docker API: {_START_API}")
    try:
        client = docker.DockerClient(base_url=host)
        client.ping()
    except docker.errors.DockerException:
        raise ConfigError(
            f"the Docker API at DOCKER_HOST does not answer; the container runner needs one: "
            f"{_START_API}"
        ) from None
    return client


def image_is_present(client: docker.DockerClient, reference: str) -> bool:
    """Whether ``reference`` is a local image's tag or repo digest (kfp's own test)."""
    from kfp.local import docker_task_handler

    reference = docker_task_handler.add_latest_tag_if_not_present(image=reference)
    return any(
        reference in (image.tags + image.attrs.get("RepoDigests", []))
        for image in client.images.list()
    )


def require_image(client: docker.DockerClient, reference: str) -> None:
    """Raise :class:`ConfigError` if ``reference`` is a ``localhost/`` image not present locally.

    Other references are left to kfp, which pulls them.
    """
    if reference.startswith("localhost/") and not image_is_present(client, reference):
        raise ConfigError(
            f"image {reference} is not in the local image store; build it with `make images` "
            "(or set SAMDOPS_COMPONENT_IMAGE to an image that is)"
        )


@contextlib.contextmanager
def reliable_containers(image: str | None = None) -> Iterator[None]:
    """While active, kfp.local runs containers through :func:`run_container`.

    Checks first that the Docker API answers and, if ``image`` is given, that it is present
    (see :func:`require_image`). Restores kfp's own function on exit.
    """
    from kfp.local import docker_task_handler

    client = docker_client()
    try:
        if image:
            require_image(client, image)
    finally:
        client.close()
    original = docker_task_handler.run_docker_container
    docker_task_handler.run_docker_container = run_container
    try:
        yield
    finally:
        docker_task_handler.run_docker_container = original


def run_container(
    client: docker.DockerClient,
    image: str,
    command: list[str],
    volumes: dict[str, Any],
    **container_run_args: Any,
) -> int:
    """Run one step's container to its end and return its real exit status.

    Drop-in for kfp's ``run_docker_container`` (same arguments). The container is created
    without auto-removal, its log printed line by line as kfp does (through ``print``, so kfp's
    indentation and any stdout redirection apply), its exit status waited for, and the
    container removed in every case. An unknown exit status counts as a failure.
    """
    import docker
    from kfp.local import docker_task_handler

    image = docker_task_handler.add_latest_tag_if_not_present(image=image)
    if image_is_present(client, image):
        print(f"Found image {image!r}\n")
    else:
        require_image(client, image)
        print(f"Pulling image {image!r}")
        client.images.pull(image)
        print("Image pull complete\n")
    for key in ("auto_remove", "remove", "detach", "stdout", "stderr"):
        container_run_args.pop(key, None)
    mounts = {**_ca_file_mounts(container_run_args.get("environment")), **volumes}
    container = client.containers.create(
        image=image, command=command, volumes=mounts, **container_run_args
    )
    try:
        container.start()
        printed = _print_log_stream(container)
        try:
            result = container.wait()
        except docker.errors.NotFound:
            print("samdops: the container vanished before reporting its exit status")
            return 125
        if printed is not None:
            _print_lines(container.logs(stdout=True, stderr=True)[printed:])
        status = result.get("StatusCode")
        return status if isinstance(status, int) else 125
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def _print_log_stream(container: Any) -> int | None:
    """Print the container's log as it comes; None when complete, else the bytes printed."""
    import docker
    import requests

    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    seen = 0
    try:
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            seen += len(chunk)
            *lines, pending = (pending + decoder.decode(chunk)).split("\n")
            for line in lines:
                print(line)
    except (docker.errors.APIError, requests.RequestException):
        undecoded = decoder.getstate()[0]  # the rest is read once the container has ended
        return seen - len(undecoded) - len(pending.encode())
    pending += decoder.decode(b"", final=True)
    if pending:
        print(pending)
    return None


def _print_lines(data: bytes) -> None:
    for line in data.decode("utf-8", errors="replace").splitlines():
        print(line)


def _ca_file_mounts(environment: object) -> dict[str, dict[str, str]]:
    """Read-only mounts, at the same path, of the CA files the step's environment names."""
    if not isinstance(environment, Mapping):
        return {}
    mounts = {}
    for name in _CA_FILES:
        value = environment.get(name)
        if isinstance(value, str) and os.path.isabs(value) and os.path.isfile(value):
            mounts[value] = {"bind": value, "mode": "ro"}
    return mounts


def prepare_pipeline_root(path: Path) -> Path:
    """Create ``path`` (absolute) so that the image's non-root user can write in it.

    As root (podman or docker without user namespaces: uid 10001 in the container is uid 10001
    on the host) the directory is given to that user; otherwise it is made world-writable,
    because a rootless runtime maps the container's uid to a subordinate uid of the host.
    """
    from samdops.cluster.kube import RUN_AS_USER

    path = path.expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(path, RUN_AS_USER, RUN_AS_USER)
            path.chmod(0o755)
        else:
            path.chmod(0o777)
    except OSError as exc:
        raise ConfigError(
            f"cannot prepare the pipeline root {path} for the step containers (uid "
            f"{RUN_AS_USER}): {exc.strerror}; choose a directory you own"
        ) from None
    return path
