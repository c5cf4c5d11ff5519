# The front door. `make run` and `make test` create .venv from requirements.lock when needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.samdops-installed
PIP_QUIET := --quiet --disable-pip-version-check --no-input

.PHONY: venv run test unit integration hostile cluster-test test-images lint compile bench lock clean sepsis-data

TOOLS_VENV ?= .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.samdops-installed

venv: $(STAMP)

# Tools that must not be importable from the runtime venv (see requirements/tools.in).
$(TOOLS_STAMP): requirements/tools.lock
	@test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	@set -o pipefail; $(TOOLS_VENV)/bin/python -m pip install $(PIP_QUIET) --require-hashes \
	  --no-deps -r requirements/tools.lock 2>&1 | { grep -v "^WARNING: Location" || true; }
	@touch $(TOOLS_STAMP)

# pip's "Location ... is ignored" warnings come from this machine's pip.conf and are filtered.
$(STAMP): requirements/app.lock requirements/build.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the locked dependency set into $(VENV) (first time: a few minutes)"
	@set -o pipefail; for lock in requirements/build.lock requirements/app.lock; do \
	  $(PY) -m pip install $(PIP_QUIET) --require-hashes --no-deps -r $$lock 2>&1 \
	    | { grep -v "^WARNING: Location" || true; }; done
	@set -o pipefail; $(PY) -m pip install $(PIP_QUIET) --no-deps --no-build-isolation -e . 2>&1 \
	  | { grep -v "^WARNING: Location" || true; }
	@$(PY) -m pip check
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/samdops run train

# The container tests (tests/integration/test_cluster_mode.py and test_container_runner.py) run
# the component image: it is built first (reused when its inputs are unchanged), with podman,
# runc and debootstrap from Debian where missing.
test: $(STAMP) $(TOOLS_STAMP) test-images
	$(PY) -m pytest -q tests/unit tests/integration

# The cluster's flows with every step in its own container, state on S3 (moto), secrets in
# Vault (OpenBao); prints one summary line. `make test` runs it too.
cluster-test: $(STAMP) test-images
	$(PY) -m pytest -q tests/integration/test_cluster_mode.py

# The image the tests run; built from uncommitted changes too (such an image records no commit
# and `make deploy` refuses it).
test-images: $(STAMP)
	@images/install-tools.sh
	@SAMDOPS_ALLOW_DIRTY=1 PY=$(PY) images/build.sh

# The hostile and careless inputs of issue #16 alone (part of `make test`); prints their count.
hostile: $(STAMP) $(TOOLS_STAMP)
	$(PY) -m pytest -q -m hostile tests/unit tests/integration

unit: $(STAMP) $(TOOLS_STAMP)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

lint: $(STAMP)
	$(VENV)/bin/ruff check src components pipelines tests bench
	$(VENV)/bin/ruff format --check src components pipelines tests bench
	$(VENV)/bin/mypy

compile: $(STAMP)
	$(VENV)/bin/samdops compile

bench: $(STAMP)
	$(PY) bench/run_all.py

# Regenerate the sepsis model's simulated reference data and re-pin its digest in its config.
sepsis-data: $(STAMP)
	$(PY) scripts/sepsis_reference_data.py

# Regenerate the lock file after changing dependencies in pyproject.toml (needs uv).
lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-unknown-linux-gnu -o requirements/app.lock
	uv pip compile requirements/build.in --generate-hashes --python-version 3.11 -o requirements/build.lock
	uv pip compile requirements/tools.in --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-unknown-linux-gnu -o requirements/tools.lock

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

# --- Kubernetes: images, chart, cluster (README, "Deploying to a cluster") -------------------
.PHONY: images images-smoke chart-sync chart-test kind-up deploy submit
CLUSTER ?= kind
KUSTOMIZE_LOCAL := --load-restrictor LoadRestrictionsNone

# Build the component image with docker or podman, smoke-check it and record its digest in
# images/digests.lock (read by `make compile`). With a registry (SAMDOPS_REGISTRY, or the one
# `make kind-up` runs on localhost:5001) the image is pushed and the pushed digest recorded;
# without one, the local image's digest (podman). The base is
# SAMDOPS_BASE_IMAGE=name:tag@sha256:<digest> if it is present or pullable, else one built from
# Debian packages (podman and debootstrap, as root the first time). Unchanged inputs reuse the
# image. See images/build.sh.
images: $(STAMP)
	@PY=$(PY) images/build.sh

# Run the image that images/digests.lock (or SAMDOPS_COMPONENT_IMAGE) names: it imports samdops,
# kfp, xgboost, pandas and sklearn, and runs as user 10001.
images-smoke: $(STAMP)
	@images/smoke.sh "$$($(PY) -c 'from samdops.cluster.images import component_image; print(component_image())')"

# Copy the Vault policies (manifests/vault, their one source) into the chart (.Files.Get needs
# them inside it). `make chart-test` fails while the copy is stale.
chart-sync:
	@mkdir -p helm/samdops/files/vault
	@rm -f helm/samdops/files/vault/*.hcl
	cp manifests/vault/*.hcl helm/samdops/files/vault/

# Offline: lint + render the chart (defaults and each ci/*-values.yaml), validate every object
# against the Kubernetes 1.31 schemas, build the local kustomizations, then the policy tests.
chart-test: $(STAMP) $(TOOLS_STAMP)
	@rm -rf build/chart && mkdir -p build/chart
	$(PY) scripts/render_chart.py --lint
	$(PY) scripts/render_chart.py > build/chart/default.yaml
	@set -e; for v in helm/samdops/ci/*-values.yaml; do \
	  echo "$(PY) scripts/render_chart.py --lint -f $$v"; \
	  $(PY) scripts/render_chart.py --lint -f $$v; \
	  echo "$(PY) scripts/render_chart.py -f $$v > build/chart/$$(basename $$v)"; \
	  $(PY) scripts/render_chart.py -f $$v > build/chart/$$(basename $$v); done
	@set -e; for d in base overlays/kind overlays/minikube; do \
	  echo "$(VENV)/bin/kubectl kustomize $(KUSTOMIZE_LOCAL) manifests/$$d"; \
	  $(VENV)/bin/kubectl kustomize $(KUSTOMIZE_LOCAL) manifests/$$d \
	    > build/chart/kustomize-$$(echo $$d | tr / -).yaml; done
	$(VENV)/bin/kubectl kustomize manifests/dev-vault > build/chart/kustomize-dev-vault.yaml
	@set -o pipefail; echo "$(TOOLS_VENV)/bin/kubernetes-validate --strict --kubernetes-version 1.31 build/chart/*.yaml"; \
	  $(TOOLS_VENV)/bin/kubernetes-validate --strict --kubernetes-version 1.31 build/chart/*.yaml \
	  | { grep -v '^INFO' || true; } && echo "every rendered object is valid for Kubernetes 1.31"
	$(PY) -m pytest -q tests/unit/test_helm_chart.py tests/unit/test_dockerfile.py \
	  tests/unit/test_deploy_scripts.py

# A kind (or CLUSTER=minikube) cluster with a local registry; needs docker and kind/minikube.
kind-up:
	@CLUSTER=$(CLUSTER) scripts/kind-up.sh

# Kubeflow Pipelines 2.17.0, samdops' manifests, a dev Vault, the chart (needs network).
deploy: $(STAMP)
	@CLUSTER=$(CLUSTER) PY=$(PY) scripts/deploy.sh

# Upload the data and start a first training run on the cluster.
submit: $(STAMP)
	@PY=$(PY) scripts/submit.sh
