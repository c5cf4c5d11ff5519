#!/usr/bin/env bash
# Smoke-check an image: it starts, imports samdops and its heavy dependencies, and runs as the
# non-root user 10001. images/build.sh runs it on every image it builds, before recording the
# digest; `make images-smoke` runs it on the component image images/digests.lock names.
#
#   images/smoke.sh IMAGE [component|serving]   CONTAINER_ENGINE: docker or podman (default: podman)
#
# The serving image must import KServe and the model server, and must not carry kfp, deepchecks,
# alibi-detect, scikit-learn or river (requirements/serving.in).
#
# Podman runs with the runc runtime (crun fails on this project's machines: "cgroups in hybrid
# mode not supported") and explicit ulimits (raising them is refused there), as steps do under
# kfp.local's DockerRunner; host networking, as those steps use.
set -euo pipefail
image=${1:-}
kind=${2:-component}
if [[ -z $image || ! $kind =~ ^(component|serving)$ ]]; then
  echo "usage: images/smoke.sh IMAGE [component|serving]" >&2
  exit 2
fi
engine=${CONTAINER_ENGINE:-podman}
if [[ $engine == podman ]]; then
  run=(podman)
  if command -v runc >/dev/null 2>&1 || [[ -x /usr/sbin/runc || -x /usr/bin/runc ]]; then
    run+=(--runtime runc)
  fi
  run+=(run --rm --network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
else
  run=("$engine" run --rm --network host)
fi

# Warnings on stderr (deepchecks, alibi-detect) come before it; the last line must be "ok".
if [[ $kind == component ]]; then
  modules="samdops, kfp, xgboost, pandas, sklearn, deepchecks.tabular, alibi_detect"
  check="print('ok')"
else
  modules="kserve, xgboost, pandas, samdops.governance.service, samdops.serving, importlib.util"
  left_out="'kfp', 'deepchecks', 'alibi_detect', 'sklearn', 'river'"
  check="print(next((f'{m} is present' for m in ($left_out) if importlib.util.find_spec(m)), 'ok'))"
fi
imports=$("${run[@]}" "$image" python -c "import $modules; $check" 2>&1) || true
if [[ ${imports##*$'\n'} != ok ]]; then
  echo "make images: smoke check of $image failed: python -c 'import $modules' printed: ${imports##*$'\n'}" >&2
  exit 1
fi
uid=$("${run[@]}" "$image" id -u 2>&1) || true
if [[ $uid != 10001 ]]; then
  echo "make images: smoke check of $image failed: it runs as user '${uid##*$'\n'}', not 10001" >&2
  exit 1
fi
echo "make images: smoke check of $image passed (imports ok, user 10001)"
