#!/usr/bin/env bash
# `make images`: build the component image with docker or podman, push it to the registry the
# cluster pulls from, and record its digest in images/digests.lock (read by `make compile`).
#
#   SAMDOPS_BASE_IMAGE  required: the base image pinned by digest, name:tag@sha256:<64 hex>
#   SAMDOPS_REGISTRY    where to push (default: localhost:5001, the registry `make kind-up` runs)
#   CONTAINER_ENGINE    docker or podman (default: whichever is installed, docker first)
#   DIGESTS_LOCK        where to record the digest (default: images/digests.lock)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

# An engine counts only when it answers `info` (a docker client without a daemon does not).
status() {  # engine -> "ok" or why not
  if ! command -v "$1" >/dev/null 2>&1; then echo "not installed"
  elif "$1" info >/dev/null 2>&1; then echo ok
  elif [[ $1 == docker ]]; then echo "installed but its daemon is not reachable"
  else echo "installed but \`podman info\` fails"; fi
}
engine=${CONTAINER_ENGINE:-}
if [[ -n $engine ]]; then
  why=$(status "$engine")
  [[ $why == ok ]] || { echo "make images: CONTAINER_ENGINE=$engine is $why" >&2; exit 1; }
else
  docker_status=$(status docker)
  podman_status=$(status podman)
  if [[ $docker_status == ok ]]; then engine=docker
  elif [[ $podman_status == ok ]]; then engine=podman
  else
    echo "make images: no container engine to build with (docker: $docker_status; podman: $podman_status); install or start docker or podman" >&2
    exit 1
  fi
fi
base=${SAMDOPS_BASE_IMAGE:-}
if ! [[ $base =~ ^[^[:space:]@]+@sha256:[0-9a-f]{64}$ ]]; then
  echo "make images: set SAMDOPS_BASE_IMAGE to a python:3.11 slim image pinned by digest (name:tag@sha256:<64 hex>); got '${base}'" >&2
  exit 2
fi
registry=${SAMDOPS_REGISTRY:-localhost:5001}
version=$($PY -c 'import samdops; print(samdops.__version__)')
# The image records the commit it is built from; uncommitted changes would make that a lie.
commit=$(git rev-parse HEAD 2>/dev/null || true)
if [[ -z $commit ]]; then
  echo "make images: not a git checkout; the image records the commit it is built from" >&2
  exit 2
fi
if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  if [[ ${SAMDOPS_ALLOW_DIRTY:-0} != 1 ]]; then
    echo "make images: the working tree has uncommitted changes; commit them first (SAMDOPS_ALLOW_DIRTY=1 builds a throwaway image that records no commit)" >&2
    exit 2
  fi
  echo "make images: building from uncommitted changes; the image records no commit" >&2
  recorded_commit=""
  tag_suffix="${commit:0:12}-dirty"
else
  recorded_commit=$commit
  tag_suffix=${commit:0:12}
fi
lock_sha=$($PY -c 'from samdops.digest import sha256_file; print(sha256_file("requirements/app.lock"))')
ref="$registry/samdops-component:$version-$tag_suffix"

mkdir -p build/images
$PY images/runtime_lock.py requirements/app.lock > build/images/runtime.lock.tmp
mv build/images/runtime.lock.tmp build/images/runtime.lock

echo "make images: building $ref with $engine on $base"
"$engine" build --pull --file images/Dockerfile --build-arg "BASE_IMAGE=$base" \
  --build-arg "SAMDOPS_GIT_COMMIT=$recorded_commit" --build-arg "SAMDOPS_LOCK_SHA256=$lock_sha" \
  --tag "$ref" .
echo "make images: pushing $ref"
if [[ $engine == podman ]]; then
  podman push --tls-verify=false --digestfile build/images/component.digest "$ref"
  digest=$(cat build/images/component.digest 2>/dev/null || true)
else
  docker push "$ref" >/dev/null
  digest=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" \
    | { grep "^$registry/samdops-component@" || true; } | head -n1 | cut -d@ -f2)
fi
if ! [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]]; then
  echo "make images: could not read the pushed digest of $ref" >&2
  exit 1
fi
pinned="$registry/samdops-component@$digest"
$PY - "$pinned" "${DIGESTS_LOCK:-}" <<'PYEOF'
import json, sys
from pathlib import Path
from samdops.atomic import atomic_write_bytes
from samdops.cluster.images import DIGESTS_LOCK, require_pinned
ref = require_pinned(sys.argv[1])
target = Path(sys.argv[2]) if sys.argv[2] else DIGESTS_LOCK
atomic_write_bytes(target, (json.dumps({"component": ref}, indent=2) + "\n").encode())
print(f"make images: recorded {ref} in {target}")
PYEOF
