"""Kubernetes settings of the compiled pipelines, applied through kfp-kubernetes.

Each step runs with its own resource requests and limits, a timeout, a non-root security context,
an emptyDir ``/tmp`` (the image needs nothing else writable; kfp-kubernetes 2.17.3 cannot make the
step's root filesystem read-only) and labels that the chart's NetworkPolicies select on.

Vault access is Kubernetes auth read by hvac inside the component (:mod:`samdops.secrets`): the
step's environment comes from two ConfigMaps the Helm chart creates, ``samdops-runtime`` (Vault
address and auth method, object-store endpoint, region and retention) and
``samdops-role-<role>`` (the step's Vault role, ``samdops-<role>``, whose policy is
``manifests/vault/samdops-<role>.hcl``). No value of a secret is ever in the pipeline.

kfp.local ignores every kfp-kubernetes setting and warns about resource settings; local runs
silence that warning (:mod:`samdops.launch.local_run`). The service account of a run is set when
it is submitted (KFP v2 runs every step of a run under one service account).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from kfp import dsl, kubernetes

from samdops import settings as env_settings
from samdops.errors import ConfigError
from samdops.settings import PIPELINE_ROOT_ENV

DEFAULT_PIPELINE_ROOT = "s3://samdops-pipelines/v2"
RUN_SERVICE_ACCOUNT = "samdops-steps"  # every step of a run; bound to the step roles in Vault
RUNTIME_CONFIG_MAP = "samdops-runtime"
RUN_AS_USER = 10001
PART_OF_LABEL = ("app.kubernetes.io/part-of", "samdops")
ROLE_LABEL = "samdops.io/role"

# ConfigMap key -> environment variable, read by samdops.secrets.secrets_from_env and
# samdops.store.open_store (endpoint, region, Object Lock retention; credentials come from Vault).
RUNTIME_ENV = MappingProxyType(
    {
        "VAULT_ADDR": "VAULT_ADDR",
        "SAMDOPS_VAULT_AUTH": "SAMDOPS_VAULT_AUTH",
        "VAULT_K8S_MOUNT": "VAULT_K8S_MOUNT",
        "SAMDOPS_S3_ENDPOINT": "SAMDOPS_S3_ENDPOINT",
        "SAMDOPS_S3_BUCKET": "SAMDOPS_S3_BUCKET",
        "SAMDOPS_STATE": "SAMDOPS_STATE",  # s3://BUCKET/PREFIX: every step's state location
        "SAMDOPS_S3_REGION": "SAMDOPS_S3_REGION",
        "SAMDOPS_S3_RETENTION_MODE": "SAMDOPS_S3_RETENTION_MODE",
        "SAMDOPS_S3_RETENTION_DAYS": "SAMDOPS_S3_RETENTION_DAYS",
        "SAMDOPS_AUDIT_WITNESS": "SAMDOPS_AUDIT_WITNESS",  # samdops.audit.anchor
        "SAMDOPS_AUDIT_REQUIRE_ANCHOR": "SAMDOPS_AUDIT_REQUIRE_ANCHOR",
    }
)
ROLE_ENV = MappingProxyType({"SAMDOPS_VAULT_ROLE": "SAMDOPS_VAULT_ROLE"})


@dataclass(frozen=True)
class StepSettings:
    """What one step asks of the cluster."""

    role: str
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    timeout_seconds: int
    # KFP may serve the step from its cache: only a pure step on digest-pinned inputs. A step
    # that reads or writes shared state (registry, audit log, monitoring history) or the clock
    # (an empty window means yesterday) would replay an earlier run's result. Every step now
    # writes its start and end to the audit log, so none is pure: a step served from the cache
    # would leave no trace of the run in the log.
    cache: bool = False

    @property
    def role_config_map(self) -> str:
        return f"samdops-role-{self.role}"


STEPS: Mapping[str, StepSettings] = MappingProxyType(
    {
        "ingest": StepSettings("ingest", "250m", "1", "512Mi", "1Gi", 900),
        "validate": StepSettings("validate", "500m", "1", "1Gi", "2Gi", 1200),
        "train": StepSettings("train", "1", "2", "1Gi", "2Gi", 3600),
        "evaluate": StepSettings("evaluate", "500m", "1", "512Mi", "1Gi", 1200),
        "register": StepSettings("register", "250m", "1", "512Mi", "1Gi", 900),
        # The PCCP gate reads the registry and the store like evaluate, under its Vault role.
        "pccp-gate": StepSettings("evaluate", "500m", "1", "512Mi", "1Gi", 1200),
        # Monitoring, sized for a 500-bed day (12,000 hourly rows) against a reference of some
        # weeks: reading and Parquet copies, then per-stay tests and model scoring.
        "fetch-window": StepSettings("drift-monitor", "250m", "1", "512Mi", "2Gi", 900),
        "drift-monitor": StepSettings("drift-monitor", "1", "2", "1Gi", "4Gi", 1800),
        "record-alerts": StepSettings("drift-monitor", "100m", "500m", "256Mi", "512Mi", 300),
    }
)


def pipeline_root() -> str:
    """The ``s3://`` pipeline root compiled into every pipeline (``$SAMDOPS_PIPELINE_ROOT``)."""
    root = env_settings.pipeline_root(DEFAULT_PIPELINE_ROOT)
    if not root.startswith("s3://") or len(root) <= len("s3://"):
        raise ConfigError(f"{PIPELINE_ROOT_ENV} must be an s3:// URI; got {root!r}")
    return root


_LOCAL_EXECUTION: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "samdops_local_execution", default=False
)


@contextlib.contextmanager
def local_execution() -> Iterator[None]:
    """Define pipelines for kfp.local: it ignores cluster settings, so they are not applied.

    (kfp's resource setters inspect the call stack, about 0.1 s per step; compiling is
    unaffected, so a compiled spec always carries every setting.)
    """
    token = _LOCAL_EXECUTION.set(True)
    try:
        yield
    finally:
        _LOCAL_EXECUTION.reset(token)


def apply_step_settings(task: dsl.PipelineTask, step: str) -> dsl.PipelineTask:
    """Apply the cluster settings of ``step`` (a key of :data:`STEPS`) to ``task``."""
    try:
        settings = STEPS[step]
    except KeyError:
        raise ConfigError(f"no Kubernetes settings for step {step!r}; add it to STEPS") from None
    task.set_caching_options(settings.cache)
    if _LOCAL_EXECUTION.get():
        return task
    task.set_cpu_request(settings.cpu_request).set_cpu_limit(settings.cpu_limit)
    task.set_memory_request(settings.memory_request).set_memory_limit(settings.memory_limit)
    kubernetes.set_timeout(task, settings.timeout_seconds)
    kubernetes.set_security_context(
        task, run_as_user=RUN_AS_USER, run_as_group=RUN_AS_USER, run_as_non_root=True
    )
    kubernetes.set_image_pull_policy(task, "IfNotPresent")
    kubernetes.empty_dir_mount(task, volume_name="tmp", mount_path="/tmp", size_limit="1Gi")
    kubernetes.add_pod_label(task, *PART_OF_LABEL)
    kubernetes.add_pod_label(task, ROLE_LABEL, settings.role)
    kubernetes.use_config_map_as_env(task, RUNTIME_CONFIG_MAP, dict(RUNTIME_ENV))
    kubernetes.use_config_map_as_env(task, settings.role_config_map, dict(ROLE_ENV))
    return task
