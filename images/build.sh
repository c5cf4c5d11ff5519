#!/usr/bin/env bash
# `make images`: build the component image (images/Dockerfile) and the serving image
# (images/serving.Dockerfile) with docker or podman, smoke-check each, and record their digests in
# images/digests.lock under "component" (read by `make compile`) and "serving". With a registry,
# the images are pushed and the pushed digests recorded; without one, the local images' digests
# (podman only). The lock is written once, when both images are done.
#
#   SAMDOPS_BASE_IMAGE  a python:3.11 slim (Debian bookworm) image pinned by digest,
#                       name:tag@sha256:<64 hex>. Used if present locally or pullable. Without it,
#                       or if it can be neither, podman builds the base from Debian packages
#                       (debootstrap, needs root the first time; reused afterwards).
#   SAMDOPS_REGISTRY    where to push. Unset: localhost:5001 (the registry `make kind-up` runs)
#                       if a registry answers there, else no push. Empty or "none": no push.
#   CONTAINER_ENGINE    docker or podman (default: whichever is installed, docker first)
#   DIGESTS_LOCK        where to record the digest (default: images/digests.lock)
#   SAMDOPS_DEBIAN_MIRROR  the Debian mirror for debootstrap (default: the one apt uses here)
#   SAMDOPS_REBUILD_BASE=1 debootstrap the Debian base again (e.g. for newer security updates)
#
# Nothing inside either build uses a network (each runs with --network none): the host downloads
# the locked wheels of both images into one directory and builds the samdops wheel first
# (images/prepare.py). A rebuild whose inputs (Dockerfile, locks, samdops wheel, base, build args)
# are unchanged reuses the image.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=build/images

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
# Podman here needs the runc runtime (crun fails: "cgroups in hybrid mode not supported") and
# explicit ulimits within the machine's (podman's defaults try to raise them and are refused).
eng=("$engine")
limits=()
if [[ $engine == podman ]]; then
  if command -v runc >/dev/null 2>&1 || [[ -x /usr/sbin/runc || -x /usr/bin/runc ]]; then
    eng+=(--runtime runc)
  fi
  limits=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
fi

base_hint="set SAMDOPS_BASE_IMAGE to a python:3.11 slim image pinned by digest (name:tag@sha256:<64 hex>)"
base=${SAMDOPS_BASE_IMAGE:-}
if [[ -n $base ]] && ! [[ $base =~ ^[^[:space:]@]+@sha256:[0-9a-f]{64}$ ]]; then
  echo "make images: $base_hint; got '${base}'" >&2
  exit 2
fi
if [[ -z $base && $engine != podman ]]; then
  echo "make images: $base_hint, or use podman (CONTAINER_ENGINE=podman) to build one from Debian packages; got ''" >&2
  exit 2
fi

if [[ -n ${SAMDOPS_REGISTRY+set} ]]; then
  registry=$SAMDOPS_REGISTRY
  [[ $registry != none ]] || registry=""
elif $PY images/prepare.py registry localhost:5001; then
  registry=localhost:5001
else
  registry=""
fi
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

# --- Host-side inputs: the runtime lock, its files, the samdops wheel --------------------------
mkdir -p "$OUT"
$PY images/runtime_lock.py requirements/app.lock requirements/build.lock > "$OUT/runtime.lock.tmp"
mv "$OUT/runtime.lock.tmp" "$OUT/runtime.lock"
$PY images/prepare.py wheels "$OUT/wheels" requirements/build.lock "$OUT/runtime.lock" \
  requirements/serving.lock
$PY images/prepare.py project "$OUT/project" >/dev/null

# --- The base ---------------------------------------------------------------------------------
# Local bases are pinned by their manifest digest (`podman image inspect --format {{.Digest}}`),
# as name@sha256:<digest>: podman lists exactly that reference in the image's RepoDigests and
# resolves it from local storage without a registry, and it is the same name@sha256 form a
# registry base is pinned by (the image id, the config's digest, would be a bare id instead).
digest_of() {  # local image -> its name@sha256 reference (podman)
  local image=$1 repo=$2 digest
  digest=$("${eng[@]}" image inspect --format '{{.Digest}}' "$image")
  "${eng[@]}" image inspect "$repo@$digest" >/dev/null
  echo "$repo@$digest"
}

debian_base() {  # -> the pinned Python base built from Debian packages (podman)
  local rootfs_ref=localhost/samdops-base:bookworm python_ref=localhost/samdops-python:3.11-bookworm
  if [[ ${SAMDOPS_REBUILD_BASE:-0} == 1 ]] || ! "${eng[@]}" image exists "$rootfs_ref"; then
    if ! command -v debootstrap >/dev/null 2>&1 || [[ $EUID -ne 0 ]]; then
      echo "make images: $base_hint, or run make images once as root with debootstrap installed (apt-get install debootstrap) to build one from Debian packages; got '${SAMDOPS_BASE_IMAGE:-}'" >&2
      exit 2
    fi
    local archive security updates rootfs=$OUT/rootfs
    if [[ -n ${SAMDOPS_DEBIAN_MIRROR:-} ]]; then
      archive=$SAMDOPS_DEBIAN_MIRROR security=- updates=-
    else
      read -r archive security updates < <($PY images/prepare.py mirror) || exit 1
    fi
    echo "make images: debootstrap --variant=minbase bookworm $rootfs $archive (log: $OUT/debootstrap.log)" >&2
    rm -rf "$rootfs"
    if ! debootstrap --variant=minbase bookworm "$rootfs" "$archive" > "$OUT/debootstrap.log" 2>&1; then
      echo "make images: debootstrap failed: $(tail -n1 "$OUT/debootstrap.log"); see $OUT/debootstrap.log" >&2
      exit 1
    fi
    # apt inside the image: the same mirrors as this machine's, with updates and security.
    local suites="bookworm"
    [[ $updates == - ]] || suites+=" bookworm-updates"
    {
      printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n' "$archive" "$suites"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
      if [[ $security != - ]]; then
        printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\n' "$security"
        printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
      fi
    } > "$rootfs/etc/apt/sources.list.d/debian.sources"
    rm -f "$rootfs/etc/apt/sources.list"
    # Nothing of this machine in the image: the engine provides resolv.conf and hostname at run
    # time; the downloaded packages and lists are not needed once installed.
    rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar --numeric-owner -C "$rootfs" -c . | "${eng[@]}" import - "$rootfs_ref" >/dev/null
    rm -rf "$rootfs"
  fi
  local rootfs_pinned base_inputs have
  rootfs_pinned=$(digest_of "$rootfs_ref" localhost/samdops-base)
  base_inputs=$($PY images/prepare.py inputs --text "$rootfs_pinned" images/python-base.Containerfile)
  have=$("${eng[@]}" image inspect --format '{{index .Config.Labels "io.samdops.inputs"}}' \
    "$python_ref" 2>/dev/null || true)
  if [[ $have != "$base_inputs" ]]; then
    echo "make images: building $python_ref (Debian's python3.11) on $rootfs_pinned" >&2
    mkdir -p "$OUT/base-context"
    "${eng[@]}" build --network host --pull=never "${limits[@]}" \
      --file images/python-base.Containerfile --build-arg "ROOTFS_IMAGE=$rootfs_pinned" \
      --label "io.samdops.inputs=$base_inputs" \
      --label "org.opencontainers.image.base.name=$rootfs_pinned" \
      --tag "$python_ref" "$OUT/base-context" > "$OUT/python-base.log" 2>&1 || {
      echo "make images: building $python_ref failed: $(tail -n1 "$OUT/python-base.log"); see $OUT/python-base.log" >&2
      exit 1
    }
  fi
  digest_of "$python_ref" localhost/samdops-python
}

if [[ -n $base ]] && ! "${eng[@]}" image inspect "$base" >/dev/null 2>&1; then
  echo "make images: pulling $base"
  if ! pull_error=$("${eng[@]}" pull "$base" 2>&1 >/dev/null); then
    reason=${pull_error##*$'\n'}
    if [[ $engine != podman ]]; then
      echo "make images: $base is not present locally and cannot be pulled: ${reason#Error: }" >&2
      exit 1
    fi
    echo "make images: cannot pull $base (${reason#Error: }); building the base from Debian packages instead" >&2
    base=""
  fi
fi
[[ -n $base ]] || base=$(debian_base)

# --- The images -------------------------------------------------------------------------------
# build_image KIND DOCKERFILE LOCK INPUT...: builds localhost/samdops-KIND (REGISTRY/samdops-KIND
# with a registry) from DOCKERFILE unless an image with the same inputs exists, smoke-checks it,
# pushes it if there is a registry, and sets $pinned to its name@sha256 reference. LOCK is the lock file the image
# records (SAMDOPS_LOCK_SHA256); INPUT... are the other files the build reads.
build_image() {
  local kind=$1 dockerfile=$2 lock=$3
  shift 3
  local name=${registry:-localhost}/samdops-$kind lock_sha inputs have digest
  local ref="$name:$version-$tag_suffix"
  lock_sha=$($PY -c 'import sys; from samdops.digest import sha256_file; print(sha256_file(sys.argv[1]))' "$lock")
  inputs=$($PY images/prepare.py inputs --text "$base" --text "$recorded_commit" --text "$lock_sha" \
    "$dockerfile" .dockerignore "$@" "$OUT"/project/samdops-*.whl)
  have=$("${eng[@]}" image inspect --format '{{index .Config.Labels "io.samdops.inputs"}}' "$ref" \
    2>/dev/null || true)
  if [[ $have == "$inputs" ]]; then
    echo "make images: $ref is up to date (inputs $inputs)"
  else
    echo "make images: building $ref with $engine on $base"
    local pull=()
    [[ $engine != podman ]] || pull=(--pull=never)  # the base is local by now
    "${eng[@]}" build "${pull[@]}" --network none "${limits[@]}" --file "$dockerfile" \
      --build-context "wheels=$OUT/wheels" --build-context "project=$OUT/project" \
      --build-arg "BASE_IMAGE=$base" \
      --build-arg "SAMDOPS_GIT_COMMIT=$recorded_commit" --build-arg "SAMDOPS_LOCK_SHA256=$lock_sha" \
      --label "io.samdops.inputs=$inputs" --label "org.opencontainers.image.base.name=$base" \
      --tag "$ref" .
    if ! CONTAINER_ENGINE=$engine images/smoke.sh "$ref" "$kind"; then
      # Untagged, so that the next run builds again instead of finding it up to date.
      if [[ $engine == podman ]]; then podman untag "$ref" "$ref" || true; else docker rmi "$ref" >/dev/null || true; fi
      exit 1
    fi
  fi

  if [[ -n $registry ]]; then
    echo "make images: pushing $ref"
    pushed() {  # the engine's last line when a push fails (the rest is in $OUT/push.log)
      echo "make images: could not push $ref: $(tail -n1 "$OUT/push.log" 2>/dev/null)" >&2
      exit 1
    }
    if [[ $engine == podman ]]; then
      rm -f "$OUT/$kind.digest"
      "${eng[@]}" push --tls-verify=false --digestfile "$OUT/$kind.digest" "$ref" \
        2> "$OUT/push.log" || pushed
      digest=$(cat "$OUT/$kind.digest" 2>/dev/null || true)
    else
      docker push "$ref" > /dev/null 2> "$OUT/push.log" || pushed
      digest=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" \
        | { grep "^$name@" || true; } | head -n1 | cut -d@ -f2)
    fi
    if ! [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]]; then
      echo "make images: could not read the pushed digest of $ref" >&2
      exit 1
    fi
  else
    # No registry: the local image, pinned by a digest the engine lists in its RepoDigests. That
    # exact reference is what kfp.local's DockerRunner looks up among the local images.
    digest=$("${eng[@]}" image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" \
      | { grep "^$name@" || true; } | head -n1 | cut -d@ -f2)
    if ! [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]]; then
      echo "make images: $engine lists no digest for the local image $ref (docker lists one only for pushed images); set SAMDOPS_REGISTRY to push it, or use podman" >&2
      exit 1
    fi
    if ! "${eng[@]}" image inspect "$name@$digest" >/dev/null 2>&1; then
      echo "make images: $engine does not find $name@$digest, the reference it listed for $ref" >&2
      exit 1
    fi
  fi
  pinned="$name@$digest"
}

# The component image records requirements/app.lock (the whole locked set its runtime subset
# comes from); the serving image records requirements/serving.lock, all of which it installs.
build_image component images/Dockerfile requirements/app.lock requirements/build.lock "$OUT/runtime.lock"
component=$pinned
build_image serving images/serving.Dockerfile requirements/serving.lock requirements/serving.lock
serving=$pinned
$PY - "$component" "$serving" "${DIGESTS_LOCK:-}" <<'PYEOF'
import json, sys
from pathlib import Path
from samdops.atomic import atomic_write_bytes
from samdops.cluster.images import DIGESTS_LOCK, require_pinned
refs = {"component": require_pinned(sys.argv[1]), "serving": require_pinned(sys.argv[2])}
target = Path(sys.argv[3]) if sys.argv[3] else DIGESTS_LOCK
atomic_write_bytes(target, (json.dumps(refs, indent=2) + "\n").encode())
for key, ref in refs.items():
    print(f"make images: recorded {key} {ref} in {target}")
PYEOF
