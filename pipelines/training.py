"""The training DAG: ingest -> validate -> train -> evaluate -> register.

Parameters are run-time values only: the resolved configuration as canonical JSON, the data URI
and its expected digest, the state location (a directory or ``s3://BUCKET/PREFIX``, no
credentials; empty: each step's ``$SAMDOPS_STATE``, which the chart's runtime ConfigMap sets) and
the run name. No secret is ever a parameter.
Each step carries its Kubernetes settings (:mod:`samdops.cluster.kube`); kfp.local ignores them.
"""

from kfp import dsl

from samdops.cluster.kube import apply_step_settings, pipeline_root
from samdops.components._image import COMPONENT_IMAGE
from samdops.components.register import register
from samdops.pipelines._stages import train_and_evaluate

PIPELINE_NAME = "samdops-training"


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Ingest, validate, train, evaluate and register a clinical model (samdops).",
    pipeline_root=pipeline_root(),
)
def training_pipeline(
    config: str,
    data_uri: str,
    data_sha256: str = "",
    state: str = "",
    run: str = "",
    pipeline_spec_sha256: str = "",
) -> None:
    stages = train_and_evaluate(config, data_uri, data_sha256, state, run, "source data")
    registered = register(
        config=config,
        state=state,
        run=run,
        image=COMPONENT_IMAGE,
        pipeline_spec=pipeline_spec_sha256,
        **stages.register_inputs(),
    )
    apply_step_settings(registered, "register")
