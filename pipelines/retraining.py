"""The retraining DAG under a PCCP.

ingest new data -> validate -> train -> evaluate -> PCCP gate (compare with the released model)
-> register as candidate. A candidate is never released by the pipeline: it waits for the
signatures the plan requires. Parameters are those of the training pipeline plus the plan id.
"""

from kfp import dsl

from samdops.cluster.kube import apply_step_settings, pipeline_root
from samdops.components._image import COMPONENT_IMAGE
from samdops.components.pccp_gate import pccp_gate
from samdops.components.register_candidate import register_candidate
from samdops.pipelines._stages import train_and_evaluate

PIPELINE_NAME = "samdops-retraining"


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Retrain on new data and decide under the Predetermined Change Control Plan.",
    pipeline_root=pipeline_root(),
)
def retraining_pipeline(
    config: str,
    data_uri: str,
    plan_id: str,
    data_sha256: str = "",
    state: str = "",
    run: str = "",
    pipeline_spec_sha256: str = "",
) -> None:
    stages = train_and_evaluate(config, data_uri, data_sha256, state, run, "new data")
    gate = pccp_gate(
        config=config,
        plan_id=plan_id,
        state=state,
        run=run,
        image=COMPONENT_IMAGE,
        model=stages.trained.outputs["model"],
        train=stages.ingested.outputs["train"],
        test=stages.ingested.outputs["test"],
        evaluation=stages.evaluated.outputs["evaluation"],
    )
    apply_step_settings(gate, "pccp-gate")
    registered = register_candidate(
        config=config,
        change_record=gate.outputs["change_record"],
        state=state,
        run=run,
        image=COMPONENT_IMAGE,
        pipeline_spec=pipeline_spec_sha256,
        **stages.register_inputs(),
    )
    apply_step_settings(registered, "register")
