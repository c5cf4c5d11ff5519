#!/usr/bin/env bash
# `make deploy`: Kubeflow Pipelines 2.17.0, samdops' manifests, a dev Vault (unless
# VAULT_EXTERNAL=1), the object-store credentials (created in Vault, copied into a Secret) and
# the samdops Helm chart, on the current kubectl context (made by `make kind-up`).
#
#   CLUSTER              kind (default) or minikube: which manifests/overlays/<cluster>
#   SAMDOPS_MINIO_IMAGE  minio/minio@sha256:<64 hex>   (required: images by digest)
#   SAMDOPS_MC_IMAGE     minio/mc@sha256:<64 hex>      (required)
#   SAMDOPS_VAULT_IMAGE  hashicorp/vault@sha256:<64 hex> (required)
#   SAMDOPS_VALUES       optional values file for the chart, applied last (e.g. an existing
#                        Vault: vault.address, vault.namespace, vault.bootstrap.enabled=false)
#   VAULT_EXTERNAL=1     no dev Vault; the Secret samdops-object-store must exist already
#   the component image comes from images/digests.lock (`make images`), and so does the serving
#   image (key "serving"; SAMDOPS_SERVING_IMAGE overrides it) when it is recorded: without it
#   the chart keeps its placeholder, which serving.enabled cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."
CLUSTER=${CLUSTER:-kind}
PY=${PY:-.venv/bin/python}
KUBECTL=${KUBECTL:-$(command -v kubectl || echo .venv/bin/kubectl)}
OUT=build/deploy
die() { echo "make deploy: $*" >&2; exit 1; }
pinned() { [[ ${!1:-} =~ ^[^[:space:]@]+@sha256:[0-9a-f]{64}$ && ${!1} != *@sha256:0000000000000000000000000000000000000000000000000000000000000000 ]]; }

[[ $CLUSTER == kind || $CLUSTER == minikube ]] || die "CLUSTER must be kind or minikube"
for var in SAMDOPS_MINIO_IMAGE SAMDOPS_MC_IMAGE SAMDOPS_VAULT_IMAGE; do
  pinned "$var" || die "set $var to an image pinned by digest (name@sha256:<64 hex>)"
done
component=$($PY -c 'from samdops.cluster.images import component_image, require_pinned; print(require_pinned(component_image()))') \
  || die "no component image pinned by digest: run make images first"
# A build without a registry records localhost/NAME@sha256:..., which exists only on this machine.
[[ $component != localhost/* ]] \
  || die "the component image $component exists only on this machine; push it with SAMDOPS_REGISTRY=localhost:5001 make images (after make kind-up)"
serving=$($PY -c 'import json, os; from samdops.cluster.images import DIGESTS_LOCK as lock
print(os.environ.get("SAMDOPS_SERVING_IMAGE") or (json.loads(lock.read_text()).get("serving", "") if lock.is_file() else ""))') \
  || die "images/digests.lock is not valid: rebuild it with make images"
if [[ -n $serving ]]; then
  SAMDOPS_SERVING_IMAGE=$serving pinned SAMDOPS_SERVING_IMAGE \
    || die "the serving image $serving is not pinned by a real digest (name@sha256:<64 hex>); run make images"
  [[ $serving != localhost/* ]] \
    || die "the serving image $serving exists only on this machine; push it with SAMDOPS_REGISTRY=localhost:5001 make images (after make kind-up)"
fi
"$KUBECTL" cluster-info >/dev/null 2>&1 || die "no cluster on the current kubectl context: run make kind-up"
mkdir -p "$OUT"

echo "== Kubeflow Pipelines 2.17.0"
"$KUBECTL" apply -k manifests/kfp/cluster-scoped
"$KUBECTL" wait --for condition=established --timeout=120s crd --all
"$KUBECTL" apply -k manifests/kfp/platform
"$KUBECTL" wait --for condition=Available --timeout=1200s -n kubeflow deployment --all

echo "== samdops namespace and Vault policies (manifests/overlays/$CLUSTER)"
"$KUBECTL" kustomize --load-restrictor LoadRestrictionsNone "manifests/overlays/$CLUSTER" \
  | "$KUBECTL" apply -f -

# Credentials are generated here, kept in Vault, and copied into Secrets; none is printed.
random() { $PY -c 'import secrets; print(secrets.token_urlsafe(32), end="")'; }
ensure_secret() {  # namespace name key value-on-stdin
  "$KUBECTL" get secret -n "$1" "$2" >/dev/null 2>&1 && return 0
  "$KUBECTL" create secret generic -n "$1" "$2" --from-file="$3=/dev/stdin" >/dev/null
}
if [[ ${VAULT_EXTERNAL:-0} != 1 ]]; then
  echo "== dev Vault (in memory; laptop only)"
  "$KUBECTL" create namespace vault --dry-run=client -o yaml | "$KUBECTL" apply -f -
  random | ensure_secret vault vault-dev-root-token token
  "$KUBECTL" kustomize manifests/dev-vault \
    | sed "s|VAULT_IMAGE_PLACEHOLDER|$SAMDOPS_VAULT_IMAGE|" | "$KUBECTL" apply -f -
  "$KUBECTL" rollout status -n vault deployment/vault --timeout=300s
  "$KUBECTL" get secret -n vault vault-dev-root-token -o jsonpath='{.data.token}' | base64 -d \
    | ensure_secret samdops vault-bootstrap-token token
fi
vault_exec() {
  "$KUBECTL" exec -i -n vault deployment/vault -- sh -ec \
    "export VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=\$VAULT_DEV_ROOT_TOKEN_ID; $1"
}
if [[ ${VAULT_EXTERNAL:-0} != 1 ]]; then
  echo "== object-store credentials in Vault (samdops/s3), copied into Secrets"
  vault_exec 'vault secrets list | grep -q "^samdops/" || vault secrets enable -path=samdops -version=2 kv'
  if ! vault_exec 'vault kv get samdops/s3 >/dev/null 2>&1'; then
    $PY -c 'import json, secrets; print(json.dumps({"access_key": "samdops-" + secrets.token_hex(6), "secret_key": secrets.token_urlsafe(32)}))' \
      | vault_exec 'vault kv put samdops/s3 @/dev/stdin >/dev/null'
  fi
  creds=$(vault_exec 'vault kv get -format=json samdops/s3')
  for ns in samdops kubeflow; do
    "$KUBECTL" get secret -n "$ns" samdops-object-store >/dev/null 2>&1 && continue
    printf '%s' "$creds" | $PY -c 'import json, sys; d = json.load(sys.stdin)["data"]["data"]; print(f"access_key={d[\"access_key\"]}\nsecret_key={d[\"secret_key\"]}")' \
      | "$KUBECTL" create secret generic -n "$ns" samdops-object-store --from-env-file=/dev/stdin >/dev/null
  done
  unset creds
else
  # An existing Vault: its operator copies samdops/s3 into the Secrets (README, An existing Vault).
  for ns in samdops kubeflow; do
    "$KUBECTL" get secret -n "$ns" samdops-object-store >/dev/null 2>&1 \
      || die "VAULT_EXTERNAL=1: create the Secret samdops-object-store in namespace $ns from Vault secret samdops/s3 first"
  done
fi

echo "== samdops chart"
cat > "$OUT/images-values.yaml" <<YAML
images:
  component: $component${serving:+
  serving: $serving}
  minio: $SAMDOPS_MINIO_IMAGE
  mc: $SAMDOPS_MC_IMAGE
  vault: $SAMDOPS_VAULT_IMAGE
  pullPolicy: IfNotPresent
YAML
extra=()
[[ -n ${SAMDOPS_VALUES:-} ]] && extra=(-f "$SAMDOPS_VALUES")
$PY scripts/render_chart.py -f helm/samdops/ci/kind-values.yaml -f "$OUT/images-values.yaml" \
  "${extra[@]}" --namespace samdops > "$OUT/samdops.yaml"
"$KUBECTL" delete job -n samdops -l app.kubernetes.io/instance=samdops --ignore-not-found
"$KUBECTL" apply -f "$OUT/samdops.yaml"
"$KUBECTL" rollout status -n samdops statefulset/samdops-minio --timeout=300s
for job in samdops-vault-bootstrap samdops-bucket-init samdops-retraining-schedule; do
  "$KUBECTL" wait --for=condition=complete --timeout=600s -n samdops "job/$job"
done
echo "make deploy: done; next: make submit (first run), then open the KFP UI (README)"
