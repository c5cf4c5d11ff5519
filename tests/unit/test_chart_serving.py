"""The chart's model server: a KServe InferenceService (templates/inferenceservice.yaml).

Rendered with ``ci/serving-values.yaml`` it runs the digest-pinned serving image with the model's
``--sha256``, its resources, the restricted security context and the service account bound to its
Vault role, with the pipeline steps' environment; its NetworkPolicy lets in only the listed
namespaces. Without a sha256, with a malformed one or with a tag-only image, rendering fails with
one message. ``scripts/check_inferenceservice.py`` reads the rendered object into the kserve SDK's
types and compares it with the one built from the values; it runs in the serving environment
(``.venv-serving``, kserve 0.21.0), since the main one cannot import kserve.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from samdops.cluster.kube import RUNTIME_CONFIG_MAP, RUNTIME_ENV
from tests.conftest import REPO
from tests.unit.test_deploy_scripts import _bin, _run
from tests.unit.test_helm_chart import CHART, NAMESPACE, PINNED, _find, _objects, _pod_spec, _render

helm_python = pytest.importorskip("helm_python")

CI_FILE = CHART / "ci" / "serving-values.yaml"
CI: dict[str, Any] = yaml.safe_load(CI_FILE.read_text(encoding="utf-8"))
SHA = CI["serving"]["modelSha256"]
CHECK = REPO / "scripts" / "check_inferenceservice.py"
SERVING_PY = Path(
    os.environ.get("SAMDOPS_SERVING_PYTHON") or REPO / ".venv-serving" / "bin" / "python"
)
ISVC = ("InferenceService", "sepsis-risk", NAMESPACE)


def _with(**serving: Any) -> dict[str, Any]:
    values = yaml.safe_load(CI_FILE.read_text(encoding="utf-8"))
    values["serving"].update(serving)
    return values


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return _objects(_render(CI))


def _container(isvc: dict[str, Any]) -> dict[str, Any]:
    containers = isvc["spec"]["predictor"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


# --- what the InferenceService runs -----------------------------------------------------------


def test_serving_is_off_by_default() -> None:
    objects = _objects(_render({}))
    assert not [o for o in objects if o["kind"] in {"InferenceService", "PersistentVolumeClaim"}]
    assert not [
        o
        for o in objects
        if o["metadata"]["name"] == "samdops-serving" and o["kind"] == "NetworkPolicy"
    ]


def test_the_inference_service_runs_the_pinned_server_on_the_pinned_model(
    objects: list[dict[str, Any]],
) -> None:
    isvc = _find(objects, *ISVC)
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    container = _container(isvc)
    assert container["name"] == "kserve-container"
    assert container["image"] == CI["images"]["serving"] and PINNED.match(container["image"])
    assert container["command"] == ["python", "-m", "samdops.serving"]
    assert container["args"] == ["sepsis-risk@1", "--port", "8080", "--sha256", SHA]
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "768Mi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    predictor = isvc["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 1)
    assert predictor["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "8080",
        "prometheus.io/path": "/metrics",
    }
    probes = {
        k: container[k]["httpGet"] for k in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    assert probes == {
        "startupProbe": {"path": "/v2/health/live", "port": 8080},
        "readinessProbe": {"path": "/v2/health/ready", "port": 8080},
        "livenessProbe": {"path": "/v2/health/live", "port": 8080},
    }


def test_the_server_pod_is_restricted(objects: list[dict[str, Any]]) -> None:
    isvc = _find(objects, *ISVC)
    spec = _pod_spec(isvc)
    assert spec is not None
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert _container(isvc)["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    mounts = {m["name"]: m for m in _container(isvc)["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert mounts["tmp"]["mountPath"] == "/tmp"
    assert volumes["tmp"]["emptyDir"] == {"sizeLimit": "256Mi"}
    assert set(mounts) == set(volumes) == {"tmp", "journal", "vault-token"}


def test_the_service_account_is_bound_to_the_serving_vault_role(
    objects: list[dict[str, Any]],
) -> None:
    isvc = _find(objects, *ISVC)
    predictor = isvc["spec"]["predictor"]
    assert predictor["serviceAccountName"] == "samdops-serving"
    account = _find(objects, "ServiceAccount", "samdops-serving", NAMESPACE)
    assert account["automountServiceAccountToken"] is False
    # no automounted token: a projected one, which the server logs in to Vault with
    assert predictor["automountServiceAccountToken"] is False
    token = next(v for v in predictor["volumes"] if v["name"] == "vault-token")
    assert token["projected"]["sources"] == [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}
    ]
    container = _container(isvc)
    mount = next(m for m in container["volumeMounts"] if m["name"] == "vault-token")
    env = {e["name"]: e for e in container["env"]}
    assert env["SAMDOPS_VAULT_K8S_JWT"]["value"] == mount["mountPath"] + "/token"
    assert mount["readOnly"] is True
    role_ref = env["SAMDOPS_VAULT_ROLE"]["valueFrom"]["configMapKeyRef"]
    role_map = _find(objects, "ConfigMap", role_ref["name"], NAMESPACE)
    assert role_map["data"] == {"SAMDOPS_VAULT_ROLE": "samdops-serving"}
    job = _find(objects, "Job", "samdops-vault-bootstrap", NAMESPACE)
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert re.search(
        r'role/samdops-serving" bound_service_account_names=samdops-serving '
        rf"bound_service_account_namespaces={NAMESPACE} policies=samdops-serving ",
        script,
    )
    policies = _find(objects, "ConfigMap", "samdops-vault-policies", NAMESPACE)["data"]
    assert "samdops-serving.hcl" in policies


def test_the_serving_vault_policy_is_read_only() -> None:
    text = (REPO / "manifests" / "vault" / "samdops-serving.hcl").read_text(encoding="utf-8")
    paths = dict(re.findall(r'path "([^"]+)" \{\s*capabilities = (\[[^\]]*\])', text))
    assert paths == {
        "samdops/data/s3": '["read"]',
        "samdops/data/serving/*": '["read"]',
        "transit/keys/samdops-audit": '["read"]',
    }


def test_the_server_gets_the_pipeline_steps_environment(objects: list[dict[str, Any]]) -> None:
    env = {e["name"]: e for e in _container(_find(objects, *ISVC))["env"]}
    runtime = _find(objects, "ConfigMap", RUNTIME_CONFIG_MAP, NAMESPACE)["data"]
    for key, name in RUNTIME_ENV.items():
        assert env[name]["valueFrom"]["configMapKeyRef"] == {"name": RUNTIME_CONFIG_MAP, "key": key}
        assert key in runtime
    assert runtime["SAMDOPS_STATE"] == "s3://samdops-pipelines/state"
    assert env["SAMDOPS_SERVING_JOURNAL"]["value"] == "/var/lib/samdops/journal"
    assert env["HOME"]["value"] == "/tmp"
    assert not [e for e in env.values() if "secretKeyRef" in e.get("valueFrom", {})]


def test_the_journal_is_a_claim_or_an_empty_dir(objects: list[dict[str, Any]]) -> None:
    isvc = _find(objects, *ISVC)
    mount = next(m for m in _container(isvc)["volumeMounts"] if m["name"] == "journal")
    assert mount["mountPath"] == "/var/lib/samdops/journal"
    volume = next(v for v in isvc["spec"]["predictor"]["volumes"] if v["name"] == "journal")
    assert volume == {
        "name": "journal",
        "persistentVolumeClaim": {"claimName": "sepsis-risk-journal"},
    }
    claim = _find(objects, "PersistentVolumeClaim", "sepsis-risk-journal", NAMESPACE)
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"

    values = _with(
        journal={"volume": "emptyDir", "size": "1Gi", "storageClassName": "", "existingClaim": ""},
        minReplicas=2,
        maxReplicas=4,
    )
    rendered = _objects(_render(values))
    isvc = _find(rendered, *ISVC)
    volume = next(v for v in isvc["spec"]["predictor"]["volumes"] if v["name"] == "journal")
    assert volume == {"name": "journal", "emptyDir": {"sizeLimit": "1Gi"}}
    assert (isvc["spec"]["predictor"]["minReplicas"], isvc["spec"]["predictor"]["maxReplicas"]) == (
        2,
        4,
    )
    assert not [o for o in rendered if o["kind"] == "PersistentVolumeClaim"]


def test_a_sha256_prefix_is_accepted() -> None:
    isvc = _find(_objects(_render(_with(modelSha256="sha256:" + SHA))), *ISVC)
    assert _container(isvc)["args"][-2:] == ["--sha256", SHA]


def test_the_network_policy_lets_in_only_the_listed_namespaces(
    objects: list[dict[str, Any]],
) -> None:
    isvc = _find(objects, *ISVC)
    policy = _find(objects, "NetworkPolicy", "samdops-serving", NAMESPACE)["spec"]
    selector = policy["podSelector"]["matchLabels"]
    assert selector.items() <= isvc["spec"]["predictor"]["labels"].items()
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
                for ns in ("icu-ward-app", "monitoring")
            ],
            "ports": [{"protocol": "TCP", "port": 8080}],
        }
    ]
    ports = [rule["ports"] for rule in policy["egress"]]
    assert ports == [
        [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],  # DNS
        [{"protocol": "TCP", "port": 9000}],  # MinIO
        [{"protocol": "TCP", "port": 8200}],  # Vault
    ]
    minio = _find(objects, "NetworkPolicy", "samdops-minio-ingress", NAMESPACE)["spec"]
    expression = minio["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]
    assert "serving" in expression["values"]

    closed = _find(
        _objects(_render(_with(ingressNamespaces=[]))),
        "NetworkPolicy",
        "samdops-serving",
        NAMESPACE,
    )
    assert closed["spec"]["ingress"] == []


def test_external_s3_egress_follows_the_endpoint() -> None:
    values = yaml.safe_load((CHART / "ci" / "external-s3-values.yaml").read_text("utf-8"))
    values["images"]["serving"] = CI["images"]["serving"]
    values["serving"] = CI["serving"]
    objects = _objects(_render(values))
    policy = _find(objects, "NetworkPolicy", "samdops-serving", "samdops-prod")["spec"]
    assert {
        "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
        "ports": [{"protocol": "TCP", "port": 9443}],
    } in policy["egress"]
    assert {
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "security"}}}],
        "ports": [{"protocol": "TCP", "port": 8200}],
    } in policy["egress"]


# --- what does not render ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            _with(modelSha256=""),
            "serving.modelSha256: required when serving.enabled: the sha256 of sepsis-risk@1's "
            "model file (64 hex digits; `samdops registry show sepsis-risk@1` gives it)",
        ),
        (
            _with(modelSha256="ABC123"),
            'serving.modelSha256: "ABC123" is not a sha256 (64 lowercase hex digits, optionally '
            "prefixed sha256:)",
        ),
        (
            _with(modelSha256=SHA.upper()),
            f'serving.modelSha256: "{SHA.upper()}" is not a sha256',
        ),
        (
            {**_with(), "images": {"serving": "localhost:5001/samdops-serving:1.0"}},
            "at '/images/serving': 'localhost:5001/samdops-serving:1.0' does not match pattern",
        ),
        (
            _with(model=""),
            "serving.model: required when serving.enabled: NAME@VERSION (e.g. sepsis-risk@1) or "
            "NAME of a released model",
        ),
        (_with(model="Sepsis@v1"), "at '/serving/model': 'Sepsis@v1' does not match pattern"),
        (
            _with(maxReplicas=2),
            "serving.journal.volume: pvc is one ReadWriteOnce claim, which replicas cannot share; "
            "set serving.maxReplicas to 1 or use emptyDir",
        ),
        (
            _with(
                journal={**CI["serving"]["journal"], "volume": "emptyDir"},
                minReplicas=3,
                maxReplicas=2,
            ),
            "serving.maxReplicas: 2 is below serving.minReplicas 3",
        ),
        (
            _with(vaultRole="samdops-evaluate"),
            "serving.vaultRole: samdops-evaluate is a pipeline-step role (vault.stepRoles), bound "
            "to samdops-steps; give the server its own role",
        ),
        (
            _with(vaultRole="samdops-predict"),
            "serving.vaultRole: no policy files/vault/samdops-predict.hcl in the chart",
        ),
        (_with(replicas=2), "at '/serving': additional properties 'replicas' not allowed"),
    ],
)
def test_a_wrong_serving_value_fails_with_one_message(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmError) as info:
        _render(values)
    assert message in str(info.value)


# --- the kserve SDK's types (in the serving environment) -------------------------------------


def _check(
    rendered: Path, *values: Path, namespace: str = NAMESPACE
) -> subprocess.CompletedProcess[str]:
    if not SERVING_PY.is_file():
        pytest.fail(f"no serving environment at {SERVING_PY}: run `make serving-venv`")
    args = [a for v in values for a in ("-f", str(v))]
    return subprocess.run(
        [str(SERVING_PY), str(CHECK), str(rendered), *args, "--namespace", namespace],
        capture_output=True,
        text=True,
        check=False,
    )


def _write(path: Path, documents: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    return path


def test_the_rendered_inference_service_reads_into_the_kserve_types(
    objects: list[dict[str, Any]], tmp_path: Path
) -> None:
    done = _check(_write(tmp_path / "serving.yaml", objects), CI_FILE)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "InferenceService samdops/sepsis-risk: read into kserve.V1beta1InferenceService "
        "(no unknown field) and equal to the one built from the values\n"
    )
    # another set of values: emptyDir journal, replicas 2..4, another release namespace
    values = _with(
        journal={
            "volume": "emptyDir",
            "size": "512Mi",
            "storageClassName": "",
            "existingClaim": "",
        },
        minReplicas=2,
        maxReplicas=4,
        resources={"requests": {"cpu": 1, "memory": "1Gi"}, "limits": {"cpu": 2, "memory": "2Gi"}},
    )
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values), encoding="utf-8")
    chart = helm_python.Chart.load(str(CHART))
    other = _objects(chart.render(values, name="samdops", namespace="clinical"))
    done = _check(_write(tmp_path / "other.yaml", other), values_file, namespace="clinical")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("InferenceService clinical/sepsis-risk: read into")


# Each edit of the rendered InferenceService, and what the check says about it.
REFUSED: list[tuple[Any, str]] = [
    (
        lambda d: d["spec"]["predictor"].update(replicas=2),
        "InferenceService.spec.predictor: unknown field(s) replicas: V1beta1PredictorSpec has none",
    ),
    (
        lambda d: d["spec"]["predictor"]["containers"][0].update(pull="x"),
        "InferenceService.spec.predictor.containers[0]: unknown field(s) pull: V1Container",
    ),
    (
        lambda d: d["spec"]["predictor"]["annotations"].update({"prometheus.io/scrape": True}),
        "InferenceService.spec.predictor.annotations.prometheus.io/scrape: True is not a string",
    ),
    (
        lambda d: d["spec"]["predictor"].update(minReplicas="1"),
        "InferenceService.spec.predictor.minReplicas: '1' is not an integer",
    ),
    (
        lambda d: d["spec"]["predictor"]["containers"][0].pop("name"),
        "InferenceService.spec.predictor.containers[0]: V1Container: Invalid value for `name`",
    ),
    (
        lambda d: d["spec"]["predictor"]["containers"][0]["args"].__setitem__(4, "0" * 64),
        "it differs from the one the values ask for: spec.predictor.containers[0].args[4]: "
        f"rendered '{'0' * 64}', expected '{SHA}'",
    ),
    (
        lambda d: d["spec"]["predictor"]["containers"][0]["securityContext"].pop(
            "readOnlyRootFilesystem"
        ),
        "spec.predictor.containers[0].securityContext.readOnlyRootFilesystem: expected True, "
        "not rendered",
    ),
]


def test_the_check_refuses_what_the_types_or_the_values_do_not_allow(
    objects: list[dict[str, Any]], tmp_path: Path
) -> None:
    """One run of the check over one edited copy per case (each is reported on its own line)."""
    isvc = next(o for o in objects if o["kind"] == "InferenceService")
    edited = []
    for edit, _ in REFUSED:
        copy = yaml.safe_load(yaml.safe_dump(isvc))
        edit(copy)
        edited.append(copy)
    done = _check(_write(tmp_path / "edited.yaml", edited), CI_FILE)
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == len(REFUSED), done.stderr
    for line, (_, message) in zip(lines, REFUSED, strict=True):
        assert line.startswith("check_inferenceservice: InferenceService sepsis-risk: "), line
        assert message in line, line


# --- make deploy passes the recorded serving image -------------------------------------------


@pytest.mark.parametrize(
    ("serving", "message"),
    [
        (
            "localhost/samdops-serving@sha256:" + "6" * 64,
            "make deploy: the serving image localhost/samdops-serving@sha256:"
            + "6" * 64
            + " exists only on this machine; push it with SAMDOPS_REGISTRY=localhost:5001 make "
            "images (after make kind-up)\n",
        ),
        (
            "localhost:5001/samdops-serving:dev",
            "make deploy: the serving image localhost:5001/samdops-serving:dev is not pinned by a "
            "real digest (name@sha256:<64 hex>); run make images\n",
        ),
        (  # accepted: deploy goes on to look for a cluster
            "localhost:5001/samdops-serving@sha256:" + "6" * 64,
            "make deploy: no cluster on the current kubectl context: run make kind-up\n",
        ),
    ],
)
def test_deploy_checks_the_serving_image(tmp_path: Path, serving: str, message: str) -> None:
    env = {
        "PATH": _bin(tmp_path, "kubectl"),
        "HOME": str(tmp_path),
        "PY": sys.executable,
        "KUBECTL": str(tmp_path / "bin" / "kubectl"),
        "SAMDOPS_COMPONENT_IMAGE": "localhost:5001/samdops-component@sha256:" + "3" * 64,
        "SAMDOPS_SERVING_IMAGE": serving,
        "SAMDOPS_MINIO_IMAGE": "minio/minio@sha256:" + "4" * 64,
        "SAMDOPS_MC_IMAGE": "minio/mc@sha256:" + "1" * 64,
        "SAMDOPS_VAULT_IMAGE": "hashicorp/vault@sha256:" + "2" * 64,
    }
    done = _run("deploy.sh", env)
    assert done.returncode == 1
    assert done.stderr == message
