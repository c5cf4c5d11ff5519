# The front door. `make run` and `make test` create .venv from requirements.lock when needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.samdops-installed
PIP_QUIET := --quiet --disable-pip-version-check --no-input

.PHONY: venv serving-venv run test unit integration hostile cluster-test test-images lint compile bench lock clean sepsis-data

TOOLS_VENV ?= .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.samdops-installed
SERVING_VENV ?= .venv-serving
SERVING_PY := $(SERVING_VENV)/bin/python
SERVING_STAMP := $(SERVING_VENV)/.samdops-installed
# What samdops' metadata requires and the serving environment leaves out on purpose (see
# requirements/serving.in): `pip check` there reports exactly these as missing, and nothing else.
SERVING_LEFT_OUT := alibi-detect|deepchecks|kfp|kfp-kubernetes|river|scikit-learn

venv: $(STAMP)

serving-venv: $(SERVING_STAMP)

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

# The model server's environment (requirements/serving.in): KServe, without kfp, deepchecks,
# alibi-detect, scikit-learn or river. samdops goes in with --no-deps, so pip check's complaints
# that those are missing are expected; any other complaint fails.
$(SERVING_STAMP): requirements/serving.lock requirements/build.lock pyproject.toml
	@test -x $(SERVING_PY) || $(PYTHON) -m venv $(SERVING_VENV)
	@echo "installing the serving lock into $(SERVING_VENV) (first time: a minute or two)"
	@set -o pipefail; for lock in requirements/build.lock requirements/serving.lock; do \
	  $(SERVING_PY) -m pip install $(PIP_QUIET) --require-hashes --no-deps -r $$lock 2>&1 \
	    | { grep -v "^WARNING: Location" || true; }; done
	@set -o pipefail; $(SERVING_PY) -m pip install $(PIP_QUIET) --no-deps --no-build-isolation -e . 2>&1 \
	  | { grep -v "^WARNING: Location" || true; }
	@broken=$$($(SERVING_PY) -m pip check 2>&1 | grep -v -x -E \
	  "samdops [^ ]+ requires ($(SERVING_LEFT_OUT)), which is not installed\.|No broken requirements found\." \
	  || true); if [[ -n $$broken ]]; then echo "$$broken" >&2; exit 1; fi
	@touch $(SERVING_STAMP)

run: $(STAMP)
	$(VENV)/bin/samdops run train

# The container tests (tests/integration/test_cluster_mode.py, test_container_runner.py and
# test_serving_image.py) run the component and serving images: they are built first (reused when
# their inputs are unchanged), with podman, runc and debootstrap from Debian where missing. The
# model server's tests run in $(SERVING_VENV).
test: $(STAMP) $(TOOLS_STAMP) $(SERVING_STAMP) test-images
	$(PY) -m pytest -q tests/unit tests/integration

# The cluster's flows with every step in its own container, state on S3 (moto), secrets in
# Vault (OpenBao); prints one summary line. `make test` runs it too.
cluster-test: $(STAMP) test-images
	$(PY) -m pytest -q tests/integration/test_cluster_mode.py

# The images the tests run; built from uncommitted changes too (such an image records no commit
# and `make deploy` refuses it).
test-images: $(STAMP)
	@images/install-tools.sh
	@SAMDOPS_ALLOW_DIRTY=1 PY=$(PY) images/build.sh

# The hostile and careless inputs of issue #16 alone (part of `make test`); prints their count.
hostile: $(STAMP) $(TOOLS_STAMP)
	$(PY) -m pytest -q -m hostile tests/unit tests/integration

unit: $(STAMP) $(TOOLS_STAMP) $(SERVING_STAMP)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP) $(SERVING_STAMP)
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

# Regenerate the lock files after changing dependencies in pyproject.toml or requirements/*.in
# (needs uv).
lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-unknown-linux-gnu -o requirements/app.lock
	uv pip compile requirements/build.in --generate-hashes --python-version 3.11 -o requirements/build.lock
	uv pip compile requirements/tools.in --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-unknown-linux-gnu -o requirements/tools.lock
	uv pip compile requirements/serving.in --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-unknown-linux-gnu --no-emit-index-url --no-emit-find-links \
	  -o requirements/serving.lock

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

# --- Kubernetes: images, chart, cluster (README, "Deploying to a cluster") -------------------
.PHONY: images images-smoke chart-sync chart-test kind-up deploy submit
CLUSTER ?= kind
KUSTOMIZE_LOCAL := --load-restrictor LoadRestrictionsNone

# Build the component image and the serving image (images/serving.Dockerfile) with docker or
# podman, smoke-check them and record their digests in images/digests.lock (the component's is
# read by `make compile`). With a registry (SAMDOPS_REGISTRY, or the one
# `make kind-up` runs on localhost:5001) the image is pushed and the pushed digest recorded;
# without one, the local image's digest (podman). The base is
# SAMDOPS_BASE_IMAGE=name:tag@sha256:<digest> if it is present or pullable, else one built from
# Debian packages (podman and debootstrap, as root the first time). Unchanged inputs reuse the
# image. See images/build.sh.
images: $(STAMP)
	@PY=$(PY) images/build.sh

# Run the images that images/digests.lock (or SAMDOPS_COMPONENT_IMAGE, SAMDOPS_SERVING_IMAGE)
# names: the component image imports samdops, kfp, xgboost, pandas and sklearn; the serving image
# imports kserve and the model server and lacks kfp, deepchecks, alibi-detect, sklearn and river;
# both run as user 10001.
images-smoke: $(STAMP)
	@images/smoke.sh "$$($(PY) -c 'from samdops.cluster.images import component_image; print(component_image())')" component
	@images/smoke.sh "$$($(PY) -c 'from samdops.cluster.images import serving_image; print(serving_image())')" serving

# Copy the Vault policies (manifests/vault, their one source) into the chart (.Files.Get needs
# them inside it). `make chart-test` fails while the copy is stale.
chart-sync:
	@mkdir -p helm/samdops/files/vault
	@rm -f helm/samdops/files/vault/*.hcl
	cp manifests/vault/*.hcl helm/samdops/files/vault/

# Offline: lint + render the chart (defaults and each ci/*-values.yaml), validate every object
# against the Kubernetes 1.31 schemas, build the local kustomizations, then the policy tests.
# kubernetes-validate knows no CRD: it only warns (and passes) on a kind it has no schema for, so
# any such warning fails here, except for CHART_CRD_KINDS, which the tests check otherwise (the
# InferenceService: with the kserve SDK's types in $(SERVING_VENV); test_chart_serving.py).
CHART_CRD_KINDS := InferenceService with api version serving\.kserve\.io/v1beta1
chart-test: $(STAMP) $(TOOLS_STAMP) $(SERVING_STAMP)
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
	  | { grep -v '^INFO' || true; } | tee build/chart/validate.log || exit 1; \
	  if grep -v -E "^WARN .* Couldn't find schema for kind ($(CHART_CRD_KINDS)) " build/chart/validate.log \
	    | grep -q .; then echo "kubernetes-validate: see above" >&2; exit 1; fi; \
	  echo "every rendered object is valid for Kubernetes 1.31 (InferenceService: a KServe CRD, checked by the tests)"
	$(PY) -m pytest -q tests/unit/test_helm_chart.py tests/unit/test_chart_serving.py \
	  tests/unit/test_dockerfile.py tests/unit/test_deploy_scripts.py

# A kind (or CLUSTER=minikube) cluster with a local registry; needs docker and kind/minikube.
kind-up:
	@CLUSTER=$(CLUSTER) scripts/kind-up.sh

# Kubeflow Pipelines 2.17.0, samdops' manifests, a dev Vault, the chart (needs network).
deploy: $(STAMP)
	@CLUSTER=$(CLUSTER) PY=$(PY) scripts/deploy.sh

# Upload the data and start a first training run on the cluster.
submit: $(STAMP)
	@PY=$(PY) scripts/submit.sh
