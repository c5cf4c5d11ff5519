"""Check a rendered InferenceService with the kserve SDK's own types.

Usage: .venv-serving/bin/python scripts/check_inferenceservice.py RENDERED.yaml
           [-f VALUES.yaml ...] [--namespace NS] [--release NAME]

RENDERED.yaml is the chart's output (``scripts/render_chart.py -f ... > RENDERED.yaml``, any
number of documents); the values files are the ones it was rendered with (merged over
helm/samdops/values.yaml key by key, as ``helm -f``). For each InferenceService in it:

1. it is read into ``kserve.V1beta1InferenceService`` field by field, through the SDK's
   ``openapi_types`` (the KServe types, and the Kubernetes types they name from
   ``kubernetes.client``), refusing any field the types do not have and any value of the wrong
   type; the constructors check required fields. (``kserve.ApiClient().deserialize`` cannot do
   this in kserve 0.21.0: it looks every type up in ``kserve.models``, which has no
   ``V1ObjectMeta`` or ``V1Container``.) Serialized again, it must equal the rendered document,
   so that nothing was dropped;
2. the InferenceService that the values ask for is built with the same types
   (``V1beta1InferenceService``, ``V1beta1InferenceServiceSpec``, ``V1beta1PredictorSpec`` and the
   Kubernetes ones), independently of the template, and the two must be equal.

It prints one line per InferenceService and exits 0, or names every difference and exits 1. It
needs the serving environment (kserve 0.21.0), which the main one cannot import
(requirements/serving.in says why); tests/unit/test_chart_serving.py runs it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "helm" / "samdops"
API_VERSION = "serving.kserve.io/v1beta1"
KIND = "InferenceService"
# The keys of the samdops-runtime ConfigMap that every pipeline step gets as its environment
# (samdops.cluster.kube.RUNTIME_ENV, which this environment cannot import: it needs kfp).
RUNTIME_ENV = (
    "VAULT_ADDR",
    "SAMDOPS_VAULT_AUTH",
    "VAULT_K8S_MOUNT",
    "SAMDOPS_S3_ENDPOINT",
    "SAMDOPS_S3_BUCKET",
    "SAMDOPS_STATE",
    "SAMDOPS_S3_REGION",
    "SAMDOPS_S3_RETENTION_MODE",
    "SAMDOPS_S3_RETENTION_DAYS",
    "SAMDOPS_AUDIT_WITNESS",
    "SAMDOPS_AUDIT_REQUIRE_ANCHOR",
)
UID = 10001
PORT = 8080
JOURNAL_DIR = "/var/lib/samdops/journal"
TOKEN_DIR = "/var/run/secrets/samdops/vault"
_PINNED = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")
# openapi_types spell containers dict(str, T) / list[T] (kubernetes 30) or Dict[str, T] / List[T]
_DICT = re.compile(r"^(?:dict\(|Dict\[)([^,]*), (.*)[)\]]$")
_LIST = re.compile(r"^[Ll]ist\[(.*)\]$")
_QUANTITY = re.compile(r"\.(resources\.(limits|requests)\.[^.]+|sizeLimit)$")


class CheckError(Exception):
    """The rendered object does not fit the types, or differs from the values."""


# --- 1. the rendered document, read into the SDK's types -------------------------------------


def _type(name: str) -> type:
    import kserve.models
    import kubernetes.client.models

    for module in (kserve.models, kubernetes.client.models):
        found = getattr(module, name, None)
        if isinstance(found, type):
            return found
    raise CheckError(f"the SDK names a type {name!r} that neither kserve nor kubernetes has")


def _primitive(data: Any, name: str, path: str) -> Any:
    """``data`` as the primitive ``name``, unchanged; KeyError if ``name`` is not primitive."""
    number = isinstance(data, (int, float)) and not isinstance(data, bool)
    if name == "object":
        return data
    if name in ("str", "datetime", "date", "ResourceQuantity"):
        # A Kubernetes quantity may be a YAML number (cpu: 2); no other string may.
        if isinstance(data, str) or (
            number and (name == "ResourceQuantity" or _QUANTITY.search(path))
        ):
            return data
        raise CheckError(f"{path}: {data!r} is not a string")
    if name == "int":
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        raise CheckError(f"{path}: {data!r} is not an integer")
    if name == "float":
        if number:
            return data
        raise CheckError(f"{path}: {data!r} is not a number")
    if name == "bool":
        if isinstance(data, bool):
            return data
        raise CheckError(f"{path}: {data!r} is not a boolean")
    raise KeyError(name)


def read_as(data: Any, type_name: str, path: str) -> Any:
    """``data`` (from YAML) as an instance of the SDK type ``type_name``; unknown fields refused."""
    if data is None:
        return None
    listed = _LIST.match(type_name)
    if listed:
        if not isinstance(data, list):
            raise CheckError(f"{path}: expected a list ({type_name}), got {type(data).__name__}")
        return [read_as(item, listed.group(1), f"{path}[{i}]") for i, item in enumerate(data)]
    mapped = _DICT.match(type_name)
    if mapped:
        if not isinstance(data, dict):
            raise CheckError(f"{path}: expected a mapping ({type_name}), got {type(data).__name__}")
        return {
            key: read_as(value, mapped.group(2), f"{path}.{key}") for key, value in data.items()
        }
    try:
        return _primitive(data, type_name, path)
    except KeyError:
        pass
    cls = _type(type_name)
    if not isinstance(data, dict):
        raise CheckError(f"{path}: expected an object ({type_name}), got {type(data).__name__}")
    fields = {json_key: attr for attr, json_key in cls.attribute_map.items()}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise CheckError(f"{path}: unknown field(s) {', '.join(unknown)}: {type_name} has none")
    kwargs = {
        attr: read_as(data[key], cls.openapi_types[attr], f"{path}.{key}")
        for key, attr in fields.items()
        if key in data
    }
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise CheckError(f"{path}: {type_name}: {exc}") from None


def serialized(obj: Any) -> Any:
    from kserve import ApiClient

    return ApiClient().sanitize_for_serialization(obj)


# --- 2. the InferenceService the values ask for, built with the same types --------------------


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def chart_values(files: list[Path]) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    for path in files:
        values = _merge(values, yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return values


def expected(values: dict[str, Any], namespace: str, release: str) -> Any:
    from kserve import V1beta1InferenceService, V1beta1InferenceServiceSpec, V1beta1PredictorSpec
    from kubernetes import client as k

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    serving = values["serving"]
    image = values["images"]["serving"]
    if not _PINNED.match(image):
        raise CheckError(f"images.serving {image!r} is not pinned by digest (name@sha256:<64 hex>)")
    sha256 = serving["modelSha256"].removeprefix("sha256:")
    ns = values["namespace"]["name"] or namespace
    labels = {
        "app.kubernetes.io/name": "samdops",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/version": str(chart["appVersion"]),
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/part-of": "samdops",
        "helm.sh/chart": f"{chart['name']}-{chart['version']}",
        "app.kubernetes.io/component": "serving",
    }

    def from_config_map(name: str, config_map: str) -> Any:
        ref = k.V1ConfigMapKeySelector(name=config_map, key=name)
        return k.V1EnvVar(name=name, value_from=k.V1EnvVarSource(config_map_key_ref=ref))

    role_config_map = "samdops-role-" + serving["vaultRole"].removeprefix("samdops-")
    env = [from_config_map(name, "samdops-runtime") for name in RUNTIME_ENV] + [
        from_config_map("SAMDOPS_VAULT_ROLE", role_config_map),
        k.V1EnvVar(name="SAMDOPS_VAULT_K8S_JWT", value=f"{TOKEN_DIR}/token"),
        k.V1EnvVar(name="SAMDOPS_SERVING_JOURNAL", value=JOURNAL_DIR),
        k.V1EnvVar(name="HOME", value="/tmp"),
    ]
    journal = serving["journal"]
    if journal["volume"] == "pvc":
        claim = journal["existingClaim"] or f"{serving['name']}-journal"
        journal_volume = k.V1Volume(
            name="journal",
            persistent_volume_claim=k.V1PersistentVolumeClaimVolumeSource(claim_name=claim),
        )
    else:
        journal_volume = k.V1Volume(
            name="journal", empty_dir=k.V1EmptyDirVolumeSource(size_limit=journal["size"])
        )

    def probe(path: str, period: int, failures: int) -> Any:
        return k.V1Probe(
            http_get=k.V1HTTPGetAction(path=path, port=PORT),
            period_seconds=period,
            timeout_seconds=5,
            failure_threshold=failures,
        )

    container = k.V1Container(
        name="kserve-container",
        image=image,
        image_pull_policy=values["images"]["pullPolicy"],
        command=["python", "-m", "samdops.serving"],
        args=[serving["model"], "--port", str(PORT), "--sha256", sha256],
        ports=[k.V1ContainerPort(container_port=PORT, protocol="TCP")],
        env=env,
        security_context=k.V1SecurityContext(
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            run_as_non_root=True,
            privileged=False,
            capabilities=k.V1Capabilities(drop=["ALL"]),
            seccomp_profile=k.V1SeccompProfile(type="RuntimeDefault"),
        ),
        resources=k.V1ResourceRequirements(
            requests=dict(serving["resources"]["requests"]),
            limits=dict(serving["resources"]["limits"]),
        ),
        startup_probe=probe("/v2/health/live", 5, 60),
        readiness_probe=probe("/v2/health/ready", 10, 3),
        liveness_probe=probe("/v2/health/live", 20, 3),
        volume_mounts=[
            k.V1VolumeMount(name="tmp", mount_path="/tmp"),
            k.V1VolumeMount(name="journal", mount_path=JOURNAL_DIR),
            k.V1VolumeMount(name="vault-token", mount_path=TOKEN_DIR, read_only=True),
        ],
    )
    token = k.V1ServiceAccountTokenProjection(path="token", expiration_seconds=3600)
    predictor = V1beta1PredictorSpec(
        min_replicas=serving["minReplicas"],
        max_replicas=serving["maxReplicas"],
        labels=labels,
        annotations={
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(PORT),
            "prometheus.io/path": "/metrics",
        },
        service_account_name=serving["serviceAccount"],
        automount_service_account_token=False,
        security_context=k.V1PodSecurityContext(
            run_as_non_root=True,
            run_as_user=UID,
            run_as_group=UID,
            fs_group=UID,
            seccomp_profile=k.V1SeccompProfile(type="RuntimeDefault"),
        ),
        containers=[container],
        volumes=[
            k.V1Volume(
                name="tmp", empty_dir=k.V1EmptyDirVolumeSource(size_limit=serving["tmpSize"])
            ),
            journal_volume,
            k.V1Volume(
                name="vault-token",
                projected=k.V1ProjectedVolumeSource(
                    sources=[k.V1VolumeProjection(service_account_token=token)]
                ),
            ),
        ],
    )
    return V1beta1InferenceService(
        api_version=API_VERSION,
        kind=KIND,
        metadata=k.V1ObjectMeta(
            name=serving["name"],
            namespace=ns,
            labels=labels,
            annotations={"serving.kserve.io/deploymentMode": "Standard"},
        ),
        spec=V1beta1InferenceServiceSpec(predictor=predictor),
    )


# --- comparing -------------------------------------------------------------------------------


def differences(got: Any, want: Any, path: str = "") -> list[str]:
    if isinstance(got, dict) and isinstance(want, dict):
        out = []
        for key in sorted(set(got) | set(want)):
            where = f"{path}.{key}" if path else key
            if key not in want:
                out.append(f"{where}: rendered but not expected ({got[key]!r})")
            elif key not in got:
                out.append(f"{where}: expected {want[key]!r}, not rendered")
            else:
                out.extend(differences(got[key], want[key], where))
        return out
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in differences(g, w, f"{path}[{i}]")
        ]
    return [] if got == want else [f"{path}: rendered {got!r}, expected {want!r}"]


def check(document: dict[str, Any], values: dict[str, Any], namespace: str, release: str) -> str:
    if document.get("apiVersion") != API_VERSION:
        raise CheckError(f"apiVersion is {document.get('apiVersion')!r}, not {API_VERSION}")
    isvc = read_as(document, "V1beta1InferenceService", KIND)
    from kserve import V1beta1InferenceService

    assert isinstance(isvc, V1beta1InferenceService)
    lost = differences(serialized(isvc), document)
    if lost:
        raise CheckError("reading into the kserve types changed it: " + "; ".join(lost))
    found = differences(serialized(isvc), serialized(expected(values, namespace, release)))
    if found:
        raise CheckError("it differs from the one the values ask for: " + "; ".join(found))
    meta = isvc.metadata
    return (
        f"InferenceService {meta.namespace}/{meta.name}: read into kserve.V1beta1InferenceService "
        "(no unknown field) and equal to the one built from the values"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rendered", type=Path, help="the rendered chart (YAML, many documents)")
    parser.add_argument("-f", "--values", action="append", type=Path, default=[])
    parser.add_argument("--namespace", default="samdops", help="the release namespace")
    parser.add_argument("--release", default="samdops", help="the release name")
    args = parser.parse_args(argv)
    try:
        documents = [d for d in yaml.safe_load_all(args.rendered.read_text("utf-8")) if d]
    except (OSError, yaml.YAMLError) as exc:
        print(
            f"check_inferenceservice: {args.rendered}: {' '.join(str(exc).split())}",
            file=sys.stderr,
        )
        return 1
    services = [d for d in documents if d.get("kind") == KIND]
    if not services:
        print(f"check_inferenceservice: no {KIND} in {args.rendered}", file=sys.stderr)
        return 1
    values = chart_values(args.values)
    failed = 0
    for document in services:
        name = (document.get("metadata") or {}).get("name", "?")
        try:
            print(check(document, values, args.namespace, args.release))
        except CheckError as exc:
            print(f"check_inferenceservice: {KIND} {name}: {exc}", file=sys.stderr)
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
