"""The Helm chart and the kustomize manifests, checked without a cluster.

Lint and render the chart with its default values and each ``ci/*-values.yaml``; validate every
rendered object against the Kubernetes 1.31 schemas (``kubernetes-validate --strict``); run the
policy checks (security context, images by digest, resources, RBAC, NetworkPolicies, no Secrets)
over every object; check that bad values fail naming the key; build the offline kustomizations.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from samdops.cluster.kube import (
    DEFAULT_PIPELINE_ROOT,
    PART_OF_LABEL,
    ROLE_LABEL,
    RUN_SERVICE_ACCOUNT,
    RUNTIME_CONFIG_MAP,
    RUNTIME_ENV,
    STEPS,
)
from tests.conftest import REPO

helm_python = pytest.importorskip("helm_python")

CHART = REPO / "helm" / "samdops"
POLICIES = REPO / "manifests" / "vault"
BIN = Path(sys.executable).parent
# kubernetes-validate lives in its own venv (requirements/tools.in says why)
TOOLS_BIN = Path(os.environ.get("SAMDOPS_TOOLS_BIN", str(REPO / ".venv-tools" / "bin")))
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
VALUE_SETS = ["default", *(p.name for p in CI_VALUES)]
NAMESPACE = "samdops"
PINNED = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet"}
# Kinds of CRDs, which kubernetes-validate has no schema for (it warns and passes): each is left
# out of that validation, for the reason given, and checked another way.
CRD_KINDS = {
    ("serving.kserve.io/v1beta1", "InferenceService"): (
        "KServe's CRD; read into the kserve SDK's types and compared with the values by "
        "scripts/check_inferenceservice.py (tests/unit/test_chart_serving.py)"
    ),
}
LOAD_ANY = "--load-restrictor=LoadRestrictionsNone"


def _values(name: str) -> dict[str, Any]:
    if name == "default":
        return {}
    loaded: dict[str, Any] = yaml.safe_load((CHART / "ci" / name).read_text(encoding="utf-8"))
    return loaded


def _render(values: dict[str, Any]) -> dict[str, str]:
    chart = helm_python.Chart.load(str(CHART))
    rendered: dict[str, str] = chart.render(values, name="samdops", namespace=NAMESPACE)
    return rendered


def _objects(rendered: dict[str, str]) -> list[dict[str, Any]]:
    objects = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(d for d in yaml.safe_load_all(text) if d)
    return objects


@pytest.fixture(scope="module")
def renders() -> dict[str, list[dict[str, Any]]]:
    return {name: _objects(_render(_values(name))) for name in VALUE_SETS}


def _all(renders: dict[str, list[dict[str, Any]]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, objects in renders.items():
        for obj in objects:
            yield name, obj


def _where(name: str, obj: dict[str, Any]) -> str:
    return f"{name}: {obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    kind = obj["kind"]
    if kind == "Pod":
        spec: dict[str, Any] = obj["spec"]
        return spec
    if kind == "CronJob":
        spec = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    if kind in WORKLOADS:
        spec = obj["spec"]["template"]["spec"]
        return spec
    if kind == "InferenceService":  # KServe's predictor is a pod spec
        spec = obj["spec"]["predictor"]
        return spec
    return None


def _find(objects: list[dict[str, Any]], kind: str, name: str, ns: str = "") -> dict[str, Any]:
    for obj in objects:
        meta = obj["metadata"]
        if obj["kind"] == kind and meta["name"] == name and meta.get("namespace", "") == ns:
            return obj
    raise AssertionError(f"no {kind} {ns}/{name}")


# --- the Vault policies reach the chart and the manifests unchanged --------------------------


def test_chart_copy_of_the_vault_policies_matches_manifests_vault() -> None:
    source = {p.name: p.read_bytes() for p in POLICIES.glob("*.hcl")}
    copy = {p.name: p.read_bytes() for p in (CHART / "files" / "vault").glob("*.hcl")}
    assert source, "manifests/vault has no policies"
    assert copy == source, "helm/samdops/files/vault is stale: run `make chart-sync`"


def test_kustomize_base_lists_every_vault_policy() -> None:
    base = yaml.safe_load((REPO / "manifests" / "base" / "kustomization.yaml").read_text("utf-8"))
    files = base["configMapGenerator"][0]["files"]
    listed = {entry.split("=", 1)[0] for entry in files}
    assert listed == {p.name for p in POLICIES.glob("*.hcl")}, "update manifests/base"


# --- lint, render, schemas ------------------------------------------------------------------


@pytest.mark.parametrize("name", VALUE_SETS)
def test_helm_lint_strict(name: str) -> None:
    result = helm_python.lint(
        str(CHART), _values(name), strict=True, namespace=NAMESPACE, kube_version="1.31.0"
    )
    assert result["errors"] == []
    assert [m for m in result["messages"] if m["severity"] > 1] == []


def test_every_rendered_object_validates_against_kubernetes_1_31(
    renders: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    files, crds = [], 0
    for name, objects in renders.items():
        native = [o for o in objects if (o["apiVersion"], o["kind"]) not in CRD_KINDS]
        crds += len(objects) - len(native)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump_all(native, sort_keys=False), encoding="utf-8")
        files.append(str(path))
    assert crds, "no CRD object rendered: CRD_KINDS and its tests are stale"
    done = subprocess.run(
        [
            str(TOOLS_BIN / "kubernetes-validate"),
            "--strict",
            "--kubernetes-version",
            "1.31",
            *files,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Couldn't find schema" not in done.stdout + done.stderr  # a kind it would not check
    passed = done.stdout.count(" passed for resource ")
    assert passed == sum(len(objects) for objects in renders.values()) - crds


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"images": {"minio": "minio/minio:latest"}}, "at '/images/minio': 'minio/minio:latest' "),
        ({"retraining": {"crom": "0 0 2 * * *"}}, "at '/retraining': additional properties 'crom'"),
        (
            {"retraining": {"cron": "0 2 * * *"}},
            "at '/retraining/cron': '0 2 * * *' does not match",
        ),
        ({"monitoring": {"cron": "30 3 * * *"}}, "at '/monitoring/cron': '30 3 * * *' does not"),
        ({"monitoring": {"schedule": "30 3 * * *"}}, "additional properties 'schedule'"),
        ({"objectStore": {"mode": "external"}}, "at '/objectStore/external/endpoint'"),
        ({"objectStore": {"mode": "s3"}}, "at '/objectStore/mode'"),
        ({"monitoring": {"enabled": True}}, "at '/monitoring/params'"),
        (
            {
                "monitoring": {
                    "enabled": True,
                    "params": {"reference_path": "r", "current_path": "c"},
                },
                "vault": {"stepRoles": ["ingest"]},
            },
            "steps log in to Vault as drift-monitor; add it to vault.stepRoles",
        ),
        ({"tls": True}, "additional properties 'tls' not allowed"),
        ({"retraining": {"pipeline": "samdops-retraining"}}, "at '/retraining/params'"),
        ({"retraining": {"pipeline": "nightly"}}, "at '/retraining/pipeline'"),
        ({"vault": {"stepRoles": ["ingest", "deploy"]}}, "vault.stepRoles: no policy files/vault/"),
    ],
)
def test_a_wrong_value_fails_naming_the_key(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmError) as info:
        _render(values)
    assert message in str(info.value)


# --- policies over every rendered object ------------------------------------------------------


def test_no_cluster_scoped_rbac_and_no_wildcards(renders: dict[str, list[dict[str, Any]]]) -> None:
    for name, obj in _all(renders):
        assert obj["kind"] not in {"ClusterRole", "ClusterRoleBinding"}, _where(name, obj)
        if obj["kind"] == "Role":
            for rule in obj["rules"]:
                for field in ("apiGroups", "resources", "verbs"):
                    assert "*" not in rule.get(field, []), _where(name, obj)
                if "secrets" in rule["resources"]:
                    assert rule["verbs"] == ["get"] and rule.get("resourceNames"), _where(name, obj)


def test_no_secret_objects_and_no_secret_values(renders: dict[str, list[dict[str, Any]]]) -> None:
    for name, obj in _all(renders):
        assert obj["kind"] != "Secret", _where(name, obj)
        spec = _pod_spec(obj)
        for container in (spec or {}).get("containers", []):
            for env in container.get("env", []):
                if re.search(r"KEY|PASSWORD|TOKEN|SECRET", env["name"]):
                    assert "valueFrom" in env and "value" not in env, (_where(name, obj), env)


def test_every_pod_is_hardened(renders: dict[str, list[dict[str, Any]]]) -> None:
    pods = 0
    for name, obj in _all(renders):
        spec = _pod_spec(obj)
        if spec is None:
            continue
        pods += 1
        where = _where(name, obj)
        pod_ctx = spec["securityContext"]
        assert pod_ctx["runAsNonRoot"] is True and pod_ctx["runAsUser"] > 0, where
        assert pod_ctx["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert isinstance(spec.get("automountServiceAccountToken"), bool), where
        assert spec["serviceAccountName"] != "default", where
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(key), where
        assert not any("hostPath" in v for v in spec.get("volumes", [])), where
        for container in spec.get("initContainers", []) + spec["containers"]:
            ctx = container["securityContext"]
            assert ctx["runAsNonRoot"] is True, where
            assert ctx["readOnlyRootFilesystem"] is True, where
            assert ctx["allowPrivilegeEscalation"] is False, where
            assert ctx.get("privileged", False) is False, where
            assert ctx["capabilities"] == {"drop": ["ALL"]}, where
            assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert PINNED.match(container["image"]), (where, container["image"])
            limits, requests = container["resources"]["limits"], container["resources"]["requests"]
            assert {"cpu", "memory"} <= set(limits) and {"cpu", "memory"} <= set(requests), where
    assert pods >= 10


def test_service_accounts_exist_and_tokens_are_mounted_only_where_needed(
    renders: dict[str, list[dict[str, Any]]],
) -> None:
    for name, objects in renders.items():
        accounts = {
            (o["metadata"]["namespace"], o["metadata"]["name"]): o
            for o in objects
            if o["kind"] == "ServiceAccount"
        }
        for obj in objects:
            spec = _pod_spec(obj)
            if spec is None:
                continue
            key = (obj["metadata"]["namespace"], spec["serviceAccountName"])
            assert key in accounts, (name, key)
            assert spec["automountServiceAccountToken"] is False, _where(name, obj)
        for (ns, sa), account in accounts.items():
            expected = sa == RUN_SERVICE_ACCOUNT and ns != NAMESPACE
            assert account["automountServiceAccountToken"] is expected, (name, ns, sa)


def test_namespace_is_labelled_restricted(renders: dict[str, list[dict[str, Any]]]) -> None:
    namespace = _find(renders["default"], "Namespace", NAMESPACE)
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    for name in ("external-s3-values.yaml", "kind-values.yaml"):
        assert not [o for o in renders[name] if o["kind"] == "Namespace"]


def test_network_policies_default_deny_then_needed_flows(
    renders: dict[str, list[dict[str, Any]]],
) -> None:
    for name, objects in renders.items():
        policies = {
            (o["metadata"]["namespace"], o["metadata"]["name"]): o["spec"]
            for o in objects
            if o["kind"] == "NetworkPolicy"
        }
        own = next(
            o["metadata"]["namespace"]
            for o in objects
            if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == "samdops-pipeline-runner"
        )
        deny = policies[(own, "samdops-default-deny")]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, name
        for spec in policies.values():
            for rule in spec.get("egress", []) + spec.get("ingress", []):
                assert rule.get("ports"), (name, spec)  # every allowed flow names its ports
        kfp_ns = next(o for o in objects if o["kind"] == "Role")["metadata"]["namespace"]
        steps = policies[(kfp_ns, "samdops-pipeline-steps")]
        assert steps["podSelector"]["matchLabels"] == dict([PART_OF_LABEL])
        assert steps["podSelector"]["matchExpressions"] == [
            {"key": ROLE_LABEL, "operator": "Exists"}
        ]
        assert steps["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in steps


def test_minio_mode_and_external_mode(renders: dict[str, list[dict[str, Any]]]) -> None:
    default = renders["default"]
    minio = _find(default, "StatefulSet", "samdops-minio", NAMESPACE)
    env = {e["name"]: e for e in minio["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MINIO_ROOT_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "samdops-object-store"
    init = _find(default, "Job", "samdops-bucket-init", NAMESPACE)
    script = init["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert 'mc mb --with-lock "samdops/$BUCKET"' in script
    assert 'mc version enable "samdops/$BUCKET"' in script
    assert 'mc retention set --default "$LOCK_MODE"' in script
    launcher = _find(default, "ConfigMap", "kfp-launcher", "kubeflow")["data"]
    assert launcher["defaultPipelineRoot"] == DEFAULT_PIPELINE_ROOT
    provider = yaml.safe_load(launcher["providers"])["s3"]["default"]
    assert provider["endpoint"] == "samdops-minio.samdops.svc.cluster.local:9000"
    assert provider["credentials"]["secretRef"]["secretName"] == "samdops-object-store"

    external = renders["external-s3-values.yaml"]
    assert not [o for o in external if "minio" in o["metadata"]["name"]]
    launcher = _find(external, "ConfigMap", "kfp-launcher", "kubeflow")["data"]
    assert launcher["defaultPipelineRoot"] == "s3://hospital-a-samdops/v2"
    provider = yaml.safe_load(launcher["providers"])["s3"]["default"]
    assert provider["endpoint"] == "objects.hospital-a.invalid:9443"
    assert provider["disableSSL"] is False
    egress = _find(external, "NetworkPolicy", "samdops-pipeline-steps", "kubeflow")["spec"]
    assert {
        "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
        "ports": [{"protocol": "TCP", "port": 9443}],
    } in egress["egress"]


def test_step_configuration_matches_the_compiled_pipeline(
    renders: dict[str, list[dict[str, Any]]],
) -> None:
    """What samdops.cluster.kube compiles into each step exists in the KFP namespace."""
    for name, objects in renders.items():
        kfp_ns = next(o for o in objects if o["kind"] == "Role")["metadata"]["namespace"]
        runtime = _find(objects, "ConfigMap", RUNTIME_CONFIG_MAP, kfp_ns)["data"]
        assert set(RUNTIME_ENV) <= set(runtime), name
        assert runtime["SAMDOPS_VAULT_AUTH"] == "kubernetes"
        for settings in STEPS.values():
            role = _find(objects, "ConfigMap", settings.role_config_map, kfp_ns)["data"]
            assert role == {"SAMDOPS_VAULT_ROLE": f"samdops-{settings.role}"}, name
        _find(objects, "ServiceAccount", RUN_SERVICE_ACCOUNT, kfp_ns)


def test_vault_bootstrap_writes_every_policy_and_one_role_each(
    renders: dict[str, list[dict[str, Any]]],
) -> None:
    objects = renders["default"]
    policies = _find(objects, "ConfigMap", "samdops-vault-policies", NAMESPACE)["data"]
    assert policies == {p.name: p.read_text("utf-8") for p in POLICIES.glob("*.hcl")}
    job = _find(objects, "Job", "samdops-vault-bootstrap", NAMESPACE)
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    for path in POLICIES.glob("*.hcl"):
        role = path.stem
        match = re.search(
            rf'role/{role}" bound_service_account_names=(\S+) '
            rf"bound_service_account_namespaces=(\S+) policies={role} ",
            script,
        )
        assert match, role
        if role.removeprefix("samdops-") in {s.role for s in STEPS.values()}:
            assert match.groups() == (RUN_SERVICE_ACCOUNT, "kubeflow")
        else:
            assert match.groups() == (role, NAMESPACE)
    assert not [
        o
        for o in renders["external-s3-values.yaml"]
        if o["metadata"]["name"] == "samdops-vault-bootstrap"
    ]


def test_retraining_is_a_kfp_recurring_run_with_a_six_field_cron(
    renders: dict[str, list[dict[str, Any]]],
) -> None:
    job = _find(renders["kind-values.yaml"], "Job", "samdops-retraining-schedule", NAMESPACE)
    container = job["spec"]["template"]["spec"]["containers"][0]
    script = container["args"][0]
    assert script.startswith(
        "samdops compile --release --out /tmp/pipelines && exec samdops schedule"
    )
    assert "--cron '0 30 1 * * 1-5'" in script
    assert "--name samdops-training-schedule --replace" in script
    assert f"--service-account '{RUN_SERVICE_ACCOUNT}'" in script
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SAMDOPS_COMPONENT_IMAGE"] == container["image"]  # compiles against itself
    assert env["SAMDOPS_PIPELINE_ROOT"] == DEFAULT_PIPELINE_ROOT


def test_monitoring_is_a_kfp_recurring_run_of_the_compiled_pipeline(
    renders: dict[str, list[dict[str, Any]]],
) -> None:
    """One scheduler: the Kubeflow recurring run (no CronJob), under the drift-monitor role."""
    objects = renders["monitoring-values.yaml"]
    job = _find(objects, "Job", "samdops-monitoring-schedule", NAMESPACE)
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert script.startswith(
        "samdops compile --release --out /tmp/pipelines && "
        "exec samdops schedule /tmp/pipelines/samdops-monitoring.yaml"
    )
    assert "--cron '0 15 4 * * *'" in script and "--experiment 'icu-monitoring'" in script
    assert "--name samdops-monitoring-schedule --replace" in script
    assert f"--service-account '{RUN_SERVICE_ACCOUNT}'" in script
    assert "--param 'current_path=/data/sepsis/data/{window}.parquet'" in script
    assert "--param 'model_ref=sepsis'" in script
    kfp_ns = next(o for o in objects if o["kind"] == "Role")["metadata"]["namespace"]
    role = _find(objects, "ConfigMap", STEPS["drift-monitor"].role_config_map, kfp_ns)
    assert role["data"] == {"SAMDOPS_VAULT_ROLE": "samdops-drift-monitor"}
    for rendered in renders.values():
        assert not [o for o in rendered if o["kind"] == "CronJob"]
    assert not [o for o in renders["default"] if o["metadata"]["name"].startswith("samdops-mon")]


def test_the_monitoring_schedule_names_parameters_of_the_pipeline(
    renders: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """Every --param the chart passes is a parameter of the compiled monitoring pipeline."""
    from samdops.launch.compiler import compile_pipeline

    spec = next(yaml.safe_load_all(compile_pipeline("samdops-monitoring")))
    known = set(spec["root"]["inputDefinitions"]["parameters"])
    job = _find(renders["monitoring-values.yaml"], "Job", "samdops-monitoring-schedule", NAMESPACE)
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    passed = set(re.findall(r"--param '([A-Za-z_]+)=", script))
    assert passed and passed <= known


# --- kustomize ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["base", "overlays/kind", "overlays/minikube"])
def test_kustomize_builds_offline(target: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(BIN / "kubectl"), "kustomize", LOAD_ANY, str(REPO / "manifests" / target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    objects = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert {o["kind"] for o in objects} == {"Namespace", "ConfigMap"}
    namespace = next(o for o in objects if o["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    out = tmp_path / "built.yaml"
    out.write_text(done.stdout, encoding="utf-8")
    check = subprocess.run(
        [
            str(TOOLS_BIN / "kubernetes-validate"),
            "--strict",
            "--kubernetes-version",
            "1.31",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_kfp_upstream_is_pinned_to_2_17_0() -> None:
    for part in ("cluster-scoped", "platform"):
        path = REPO / "manifests" / "kfp" / part / "kustomization.yaml"
        resources = yaml.safe_load(path.read_text(encoding="utf-8"))["resources"]
        assert resources and all(r.endswith("?ref=2.17.0") for r in resources), path


# --- scripts/render_chart.py (what `make chart-test` and `make deploy` render with) ---------


def _render_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "render_chart.py"), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_render_script_merges_values_and_orders_for_apply(tmp_path: Path) -> None:
    image = "localhost:5001/samdops-component@sha256:" + "e" * 64
    override = tmp_path / "images.yaml"
    override.write_text(yaml.safe_dump({"images": {"component": image}}), encoding="utf-8")
    done = _render_script("-f", str(CHART / "ci" / "kind-values.yaml"), "-f", str(override))
    assert done.returncode == 0, done.stderr
    objects = [d for d in yaml.safe_load_all(done.stdout) if d]
    kinds = [o["kind"] for o in objects]
    assert kinds[0] == "ServiceAccount" and kinds[-1] == "Job"
    assert kinds.index("ConfigMap") < kinds.index("StatefulSet") < kinds.index("Job")
    job = _find(objects, "Job", "samdops-retraining-schedule", NAMESPACE)
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == image
    # the rest of images: kept from values.yaml, merged key by key
    minio = _find(objects, "StatefulSet", "samdops-minio", NAMESPACE)
    assert minio["spec"]["template"]["spec"]["containers"][0]["image"].startswith("minio/minio@")


def test_render_script_bad_value_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("retraining:\n  cron: '0 2 * * *'\n", encoding="utf-8")
    done = _render_script("-f", str(bad))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("render_chart: values don't meet the specifications")
    assert "at '/retraining/cron': '0 2 * * *' does not match pattern" in done.stderr
    assert done.stderr.count("\n") == 1


def test_scheduled_retraining_can_go_through_the_pccp_pipeline() -> None:
    values = {"retraining": {"pipeline": "samdops-retraining", "params": {"plan_id": "pccp-1"}}}
    job = _find(_objects(_render(values)), "Job", "samdops-retraining-schedule", NAMESPACE)
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert "exec samdops schedule /tmp/pipelines/samdops-retraining.yaml" in script
    assert "--name samdops-retraining-schedule --replace" in script
    assert "--param 'plan_id=pccp-1'" in script
