#!/usr/bin/env bash
# `make submit`: upload the Pima data to the object store and start a first training run.
# Port-forwards the KFP UI (localhost:8080) and MinIO (localhost:9000) for the duration.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
KUBECTL=${KUBECTL:-$(command -v kubectl || echo .venv/bin/kubectl)}
BUCKET=${SAMDOPS_BUCKET:-samdops-pipelines}
DATA=data/pima-indians-diabetes.csv
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
"$KUBECTL" port-forward -n kubeflow svc/ml-pipeline-ui 8080:80 >/dev/null & pids+=($!)
"$KUBECTL" port-forward -n samdops svc/samdops-minio 9000:9000 >/dev/null & pids+=($!)
sleep 3

echo "== data -> s3://$BUCKET/data/ (object-locked bucket: written once)"
secret() { "$KUBECTL" get secret -n samdops samdops-object-store -o "jsonpath={.data.$1}" | base64 -d; }
S3_ACCESS_KEY=$(secret access_key) S3_SECRET_KEY=$(secret secret_key) $PY - "$BUCKET" "$DATA" <<'PY'
import os, sys
from minio import Minio
from minio.error import S3Error
bucket, path = sys.argv[1], sys.argv[2]
client = Minio("localhost:9000", access_key=os.environ["S3_ACCESS_KEY"],
               secret_key=os.environ["S3_SECRET_KEY"], secure=False)
key = "data/" + os.path.basename(path)
try:
    client.stat_object(bucket, key)
    print(f"s3://{bucket}/{key} is there already")
except S3Error:
    client.fput_object(bucket, key, path)
    print(f"uploaded s3://{bucket}/{key}")
PY

echo "== compile (release: images pinned) and submit"
.venv/bin/samdops compile --release
sha=$($PY -c 'from samdops.digest import sha256_file; print(sha256_file("'"$DATA"'"))')
.venv/bin/samdops submit build/pipelines/samdops-training.yaml --host http://localhost:8080 \
  --param "data_uri=s3://$BUCKET/data/$(basename "$DATA")" --param "data_sha256=$sha" \
  --param "store=s3://$BUCKET/store"
echo "make submit: follow the run at http://localhost:8080 (kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80)"
