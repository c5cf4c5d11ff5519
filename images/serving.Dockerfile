# syntax=docker/dockerfile:1
# The samdops serving image: the model server (`python -m samdops.serving`, on the KServe Python
# SDK). Its Python environment is requirements/serving.lock, not the component image's: KServe
# needs Pillow>=12.3, which alibi-detect's pins exclude, and serving carries neither deepchecks
# (AGPL-3.0) nor alibi-detect (BSL 1.1), nor kfp, scikit-learn or river (see
# requirements/serving.in). xgboost-cpu, numpy and pandas are the component image's versions, so
# a served score equals the batch pipeline's.
# Built by `make images` (images/build.sh) exactly as images/Dockerfile is: BASE_IMAGE (no
# default: a CPython 3.11 Debian bookworm image pinned by digest) and two named build contexts,
# `wheels` (every locked file, downloaded by the host with images/prepare.py) and `project` (the
# samdops wheel). Nothing in this build needs a network (build.sh runs it with `--network none`).
ARG BASE_IMAGE

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements/serving.lock requirements/serving.lock
# Every file is checked against the lock's hashes, offline, and every one is a wheel: nothing is
# built from source (there is no compiler in the base image). All of serving.lock is runtime; its
# setuptools is there because grpcio-tools declares it. (The bind mount is not part of the layer
# cache key; the lock copied above is, and it determines which files of `wheels` get installed.)
RUN --mount=type=bind,from=wheels,target=/wheels/locked \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-index --find-links /wheels/locked --require-hashes \
       --no-deps --only-binary=:all: -r requirements/serving.lock \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib
# The samdops wheel (built on the host by images/prepare.py; the same wheel as the component
# image's), without its dependencies: the ones serving leaves out are never imported on the
# serving path. Then pip leaves the virtualenv the final stage copies.
# hadolint ignore=DL3022
COPY --from=project samdops-*.whl /wheels/
RUN /opt/venv/bin/pip install --no-index --no-deps /wheels/samdops-*.whl \
    && /opt/venv/bin/python -m pip uninstall --yes pip \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib

FROM ${BASE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="samdops-serving" \
      org.opencontainers.image.description="samdops model server (KServe Python SDK)" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 samdops \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
       --shell /usr/sbin/nologin samdops
COPY --from=build /opt/venv /opt/venv
# The commit this image was built from (empty for a build from uncommitted changes) and the
# digest of its lock file, requirements/serving.lock.
ARG SAMDOPS_GIT_COMMIT=""
ARG SAMDOPS_LOCK_SHA256=""
LABEL org.opencontainers.image.revision="${SAMDOPS_GIT_COMMIT}"
ENV SAMDOPS_GIT_COMMIT="${SAMDOPS_GIT_COMMIT}" \
    SAMDOPS_LOCK_SHA256="${SAMDOPS_LOCK_SHA256}" \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /tmp
USER 10001:10001
CMD ["python", "-m", "samdops.serving"]
