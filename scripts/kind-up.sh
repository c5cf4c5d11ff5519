#!/usr/bin/env bash
# `make kind-up`: a local cluster for samdops and the registry it pulls the component image from.
#   CLUSTER=kind (default): kind cluster "samdops" + registry container on localhost:5001
#   CLUSTER=minikube:       minikube profile "samdops" with its registry addon (localhost:5000)
# Needs docker (or podman) and kind or minikube. Idempotent: an existing cluster is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
CLUSTER=${CLUSTER:-kind}
REGISTRY_IMAGE=${SAMDOPS_REGISTRY_IMAGE:-registry:2}
die() { echo "make kind-up: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is not installed; $2"; }

case $CLUSTER in
  kind)
    need docker "kind needs docker (see README, Deploying to a cluster)"
    docker info >/dev/null 2>&1 || die "docker is installed but its daemon is not reachable"
    need kind "install kind (https://kind.sigs.k8s.io)"
    if [[ $(docker inspect -f '{{.State.Running}}' samdops-registry 2>/dev/null || true) != true ]]; then
      docker run -d --restart=always -p 127.0.0.1:5001:5000 --network bridge \
        --name samdops-registry "$REGISTRY_IMAGE"
    fi
    if ! kind get clusters | grep -qx samdops; then
      kind create cluster --config manifests/overlays/kind/cluster.yaml --wait 120s
    fi
    # Every node resolves localhost:5001 to the registry container.
    for node in $(kind get nodes --name samdops); do
      docker exec "$node" mkdir -p /etc/containerd/certs.d/localhost:5001
      printf '[host."http://samdops-registry:5000"]\n' \
        | docker exec -i "$node" cp /dev/stdin /etc/containerd/certs.d/localhost:5001/hosts.toml
    done
    docker network connect kind samdops-registry 2>/dev/null || true
    echo "make kind-up: kind cluster samdops is up; images go to localhost:5001 (make images)"
    ;;
  minikube)
    need minikube "install minikube (https://minikube.sigs.k8s.io)"
    minikube status -p samdops >/dev/null 2>&1 \
      || minikube start -p samdops --cpus 4 --memory 8g --addons registry
    echo "make kind-up: minikube profile samdops is up; push images through"
    echo "  kubectl port-forward -n kube-system svc/registry 5000:80 &  and  make images SAMDOPS_REGISTRY=localhost:5000"
    ;;
  *) die "CLUSTER must be kind or minikube; got '$CLUSTER'" ;;
esac
