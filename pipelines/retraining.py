"""The retraining DAG under a PCCP.

ingest new data -> validate -> train -> evaluate -> PCCP gate (compare with the released model)
-> register as candidate. A candidate is never released by the pipeline: it waits for the
signatures the plan requires. Parameters are those of the training pipeline plus the plan id.
"""

from kfp import dsl
from samdops.components._image import COMPONENT_IMAGE
from samdops.components.evaluate import evaluate
from samdops.components.ingest import ingest
from samdops.components.pccp_gate import pccp_gate
from samdops.components.register_candidate import register_candidate
from samdops.components.train import train
from samdops.components.validate import validate

from samdops.kube import apply_step_settings, pipeline_root

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
    home: str = "",
    run: str = "",
    store: str = "",
) -> None:
    source = dsl.importer(
        artifact_uri=data_uri,
        artifact_class=dsl.Dataset,
        reimport=False,
        metadata={"sha256": data_sha256},
    ).set_display_name("new data")
    ingested = ingest(
        config=config, source=source.output, expected_sha256=data_sha256, home=home, run=run
    )
    apply_step_settings(ingested, "ingest")
    validated = validate(
        config=config, train=ingested.outputs["train"], test=ingested.outputs["test"]
    )
    apply_step_settings(validated, "validate")
    trained = train(config=config, train=ingested.outputs["train"]).after(validated)
    apply_step_settings(trained, "train")
    evaluated = evaluate(
        config=config,
        model=trained.outputs["model"],
        baseline=trained.outputs["baseline"],
        test=ingested.outputs["test"],
    )
    apply_step_settings(evaluated, "evaluate")
    gate = pccp_gate(
        config=config,
        plan_id=plan_id,
        home=home,
        model=trained.outputs["model"],
        train=ingested.outputs["train"],
        test=ingested.outputs["test"],
        evaluation=evaluated.outputs["evaluation"],
    )
    apply_step_settings(gate, "pccp-gate")
    registered = register_candidate(
        config=config,
        source=source.output,
        dataset=ingested.outputs["dataset"],
        train=ingested.outputs["train"],
        test=ingested.outputs["test"],
        validation_report=validated.outputs["report"],
        model=trained.outputs["model"],
        baseline=trained.outputs["baseline"],
        evaluation=evaluated.outputs["evaluation"],
        change_record=gate.outputs["change_record"],
        home=home,
        run=run,
        image=COMPONENT_IMAGE,
        store=store,
    )
    apply_step_settings(registered, "register")
