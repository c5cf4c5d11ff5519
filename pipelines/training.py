"""The training DAG: ingest -> validate -> train -> evaluate -> register.

Parameters are run-time values only: the resolved configuration as canonical JSON, the data URI
and its expected digest, the samdops home (empty: the step's default), the run name and the
artifact store location (``s3://BUCKET/PREFIX``, no credentials). No secret is ever a parameter.
Each step carries its Kubernetes settings (:mod:`samdops.kube`); kfp.local ignores them.
"""

from kfp import dsl
from samdops.components._image import COMPONENT_IMAGE
from samdops.components.evaluate import evaluate
from samdops.components.ingest import ingest
from samdops.components.register import register
from samdops.components.train import train
from samdops.components.validate import validate

from samdops.kube import apply_step_settings, pipeline_root

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
    home: str = "",
    run: str = "",
    store: str = "",
) -> None:
    source = dsl.importer(
        artifact_uri=data_uri,
        artifact_class=dsl.Dataset,
        reimport=False,
        metadata={"sha256": data_sha256},
    ).set_display_name("source data")
    ingested = ingest(
        config=config,
        source=source.output,
        expected_sha256=data_sha256,
        home=home,
        run=run,
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
    registered = register(
        config=config,
        source=source.output,
        dataset=ingested.outputs["dataset"],
        train=ingested.outputs["train"],
        test=ingested.outputs["test"],
        validation_report=validated.outputs["report"],
        model=trained.outputs["model"],
        baseline=trained.outputs["baseline"],
        evaluation=evaluated.outputs["evaluation"],
        home=home,
        run=run,
        image=COMPONENT_IMAGE,
        store=store,
    )
    apply_step_settings(registered, "register")
