"""Upload, run and schedule compiled pipelines on a Kubeflow Pipelines backend (``kfp.Client``).

A package is uploaded once per content: the pipeline is named after the package's pipeline and
each new package becomes a version named ``<pipeline>-<first 12 hex of its sha256>``; uploading
the same bytes again reuses that version. Runs and recurring runs refer to the version, so the
Kubeflow UI shows exactly what ran.

Recurring runs take a **6-field** cron expression with seconds first (``"0 0 2 * * *"`` is 02:00
every day). A 5-field expression is refused here: the backend would silently read its fields
shifted by one (``"0 2 * * *"`` means second 0 of minute 2 of every hour).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from samdops.errors import ConfigError, PipelineError

DEFAULT_HOST = "http://localhost:8080"
DEFAULT_EXPERIMENT = "samdops"
CRON_TRAP = (
    "KFP cron expressions have 6 fields with seconds first, e.g. '0 0 2 * * *' for 02:00 daily; "
    "a 5-field expression would be read shifted by one field"
)
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?/,#LW-]+$")
_TYPES = {"STRING": str, "NUMBER_INTEGER": int, "NUMBER_DOUBLE": float, "BOOLEAN": bool}


@dataclass(frozen=True)
class Package:
    """A compiled pipeline package, parsed at the boundary."""

    path: Path
    name: str
    sha256: str
    parameters: Mapping[str, tuple[str, bool]]  # name -> (parameterType, optional)

    @property
    def version_name(self) -> str:
        return f"{self.name}-{self.sha256[:12]}"

    @classmethod
    def load(cls, path: Path) -> Package:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read pipeline package {path}: {exc.strerror}") from None
        try:
            spec = next(d for d in yaml.safe_load_all(data) if d)
            name = str(spec["pipelineInfo"]["name"])
            declared = spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
        except (yaml.YAMLError, StopIteration, KeyError, TypeError, AttributeError):
            raise ConfigError(
                f"{path} is not a compiled KFP pipeline (IR YAML); compile it with "
                "`samdops compile`"
            ) from None
        parameters = {
            str(k): (str(v.get("parameterType", "STRING")), bool(v.get("isOptional", False)))
            for k, v in declared.items()
        }
        return cls(path, name, hashlib.sha256(data).hexdigest(), parameters)

    def arguments(self, pairs: Sequence[str]) -> dict[str, Any]:
        """Typed run arguments from ``key=value`` pairs (``key=@FILE`` reads the value)."""
        values: dict[str, Any] = {}
        for pair in pairs:
            key, sep, raw = pair.partition("=")
            if not sep or not key:
                raise ConfigError(f"--param must be KEY=VALUE; got {pair!r}")
            if key not in self.parameters:
                known = ", ".join(sorted(self.parameters)) or "none"
                raise ConfigError(f"{self.name} has no parameter {key!r} (parameters: {known})")
            if raw.startswith("@"):
                try:
                    raw = Path(raw[1:]).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ConfigError(
                        f"--param {key}: cannot read {raw[1:]}: {exc.strerror}"
                    ) from None
            values[key] = _typed(key, raw, self.parameters[key][0])
        missing = sorted(
            k for k, (_, opt) in self.parameters.items() if not opt and k not in values
        )
        if missing:
            raise ConfigError(
                f"{self.name} needs --param for: {', '.join(missing)} (KEY=VALUE or KEY=@FILE)"
            )
        return values


def _typed(key: str, raw: str, kind: str) -> Any:
    target = _TYPES.get(kind)
    if target is None:
        raise ConfigError(f"--param {key}: parameters of type {kind} are not supported here")
    if target is bool:
        if raw.lower() not in {"true", "false"}:
            raise ConfigError(f"--param {key} must be true or false; got {raw!r}")
        return raw.lower() == "true"
    try:
        return target(raw)
    except ValueError:
        raise ConfigError(f"--param {key} must be {kind.lower()}; got {raw!r}") from None


def validate_cron(expression: str) -> str:
    """Return ``expression`` if it is a 6-field cron (seconds first); raise otherwise."""
    fields = expression.split()
    if len(fields) == 5:
        raise ConfigError(f"cron {expression!r} has 5 fields; {CRON_TRAP}")
    if len(fields) != 6 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ConfigError(f"cron {expression!r} is not a 6-field cron expression; {CRON_TRAP}")
    return " ".join(fields)


def safe_host(host: str) -> str:
    """``host`` without any user or password, for messages."""
    parts = urlsplit(host)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass(frozen=True)
class PipelineVersion:
    pipeline_id: str
    version_id: str
    version_name: str
    uploaded: bool


@dataclass(frozen=True)
class RunTarget:
    """Where and how a run or recurring run is created."""

    host: str = DEFAULT_HOST
    experiment: str = DEFAULT_EXPERIMENT
    service_account: str = ""
    pipeline_root: str = ""
    namespace: str = ""


@contextlib.contextmanager
def _kfp_call(host: str, what: str) -> Iterator[None]:
    """Turn KFP client failures into one-line :class:`PipelineError` and silence its prints."""
    from kfp_server_api.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except ApiException as exc:
        detail = _api_message(exc)
        raise PipelineError(
            f"the KFP API at {safe_host(host)} refused to {what}: {exc.status} {exc.reason}"
            + (f" ({detail})" if detail else "")
        ) from None
    except (HTTPError, OSError) as exc:
        raise PipelineError(
            f"cannot reach the KFP API at {safe_host(host)} to {what} ({type(exc).__name__}); "
            "is `kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80` running?"
        ) from None


def _api_message(exc: Any) -> str:
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        return ""
    return str(body.get("message") or body.get("error") or "")[:200]


def connect(host: str) -> Any:
    """A ``kfp.Client`` for ``host`` (checks the API's health on the way)."""
    import kfp

    with _kfp_call(host, "answer a health check"):
        return kfp.Client(host=host)


def _name_filter(name: str) -> str:
    return json.dumps(
        {"predicates": [{"operation": "EQUALS", "key": "display_name", "stringValue": name}]}
    )


def ensure_version(client: Any, package: Package, host: str) -> PipelineVersion:
    """The pipeline version holding ``package``'s bytes, uploading them if they are new."""
    path = str(package.path)
    with _kfp_call(host, f"upload pipeline {package.name}"):
        pipeline_id = client.get_pipeline_id(package.name)
        if pipeline_id is None:
            pipeline = client.upload_pipeline(
                path, pipeline_name=package.name, description=f"sha256:{package.sha256}"
            )
            versions = client.list_pipeline_versions(pipeline.pipeline_id).pipeline_versions
            if not versions:
                raise PipelineError(
                    f"the KFP API at {safe_host(host)} created pipeline {package.name} "
                    f"({pipeline.pipeline_id}) but lists no version of it"
                )
            first = versions[0]
            return PipelineVersion(
                pipeline.pipeline_id, first.pipeline_version_id, first.display_name, True
            )
        found = client.list_pipeline_versions(
            pipeline_id, filter=_name_filter(package.version_name)
        ).pipeline_versions
        if found:
            return PipelineVersion(
                pipeline_id, found[0].pipeline_version_id, package.version_name, False
            )
        version = client.upload_pipeline_version(
            path, package.version_name, pipeline_id=pipeline_id
        )
        return PipelineVersion(pipeline_id, version.pipeline_version_id, package.version_name, True)


def _experiment_id(client: Any, target: RunTarget) -> str:
    with _kfp_call(target.host, f"create experiment {target.experiment}"):
        experiment = client.create_experiment(target.experiment, namespace=target.namespace or None)
    return str(experiment.experiment_id)


@dataclass(frozen=True)
class Created:
    """What the API created: a run or a recurring run, and the version it refers to."""

    kind: str
    id: str
    name: str
    version: PipelineVersion
    experiment_id: str


def submit(
    package: Package, arguments: Mapping[str, Any], target: RunTarget, run_name: str
) -> Created:
    """Upload ``package`` (once per content) and start one run of it."""
    client = connect(target.host)
    version = ensure_version(client, package, target.host)
    experiment_id = _experiment_id(client, target)
    with _kfp_call(target.host, f"create run {run_name}"):
        run = client.run_pipeline(
            experiment_id=experiment_id,
            job_name=run_name,
            params=dict(arguments),
            pipeline_id=version.pipeline_id,
            version_id=version.version_id,
            pipeline_root=target.pipeline_root or None,
            service_account=target.service_account or None,
        )
    return Created("run", str(run.run_id), run_name, version, experiment_id)


def schedule(
    package: Package,
    arguments: Mapping[str, Any],
    target: RunTarget,
    name: str,
    cron: str,
    *,
    replace: bool = False,
) -> Created:
    """Create a recurring run of ``package``: 6-field ``cron``, one run at a time, no catch-up.

    Recurring runs cannot be updated: an existing one with the same name is refused, or with
    ``replace`` deleted and created again.
    """
    cron = validate_cron(cron)
    client = connect(target.host)
    version = ensure_version(client, package, target.host)
    experiment_id = _experiment_id(client, target)
    with _kfp_call(target.host, f"create recurring run {name}"):
        existing = client.list_recurring_runs(
            experiment_id=experiment_id, filter=_name_filter(name)
        ).recurring_runs
        if existing and not replace:
            raise ConfigError(
                f"recurring run {name!r} already exists ({existing[0].recurring_run_id}); "
                "recurring runs cannot be updated: pass --replace to delete and re-create it"
            )
        for old in existing or ():
            client.delete_recurring_run(old.recurring_run_id)
        created = client.create_recurring_run(
            experiment_id=experiment_id,
            job_name=name,
            description=f"samdops schedule of {package.version_name}",
            cron_expression=cron,
            max_concurrency=1,
            no_catchup=True,
            params=dict(arguments),
            pipeline_id=version.pipeline_id,
            version_id=version.version_id,
            enabled=True,
            pipeline_root=target.pipeline_root or None,
            service_account=target.service_account or None,
        )
    return Created("recurring run", str(created.recurring_run_id), name, version, experiment_id)
