"""The stages both DAGs share: import the data, ingest, validate, train, evaluate."""

from dataclasses import dataclass

from kfp import dsl

from samdops.cluster.kube import apply_step_settings
from samdops.components._image import COMPONENT_IMAGE
from samdops.components.evaluate import evaluate
from samdops.components.ingest import ingest
from samdops.components.train import train
from samdops.components.validate import validate


@dataclass(frozen=True)
class Trained:
    """The tasks of the shared stages, for the steps that follow them."""

    source: dsl.PipelineTask
    ingested: dsl.PipelineTask
    validated: dsl.PipelineTask
    trained: dsl.PipelineTask
    evaluated: dsl.PipelineTask

    def register_inputs(self) -> dict[str, object]:
        """The artifacts a register step takes, by parameter name."""
        return {
            "source": self.source.output,
            "dataset": self.ingested.outputs["dataset"],
            "train": self.ingested.outputs["train"],
            "test": self.ingested.outputs["test"],
            "validation_report": self.validated.outputs["report"],
            "model": self.trained.outputs["model"],
            "comparator": self.trained.outputs["comparator"],
            "evaluation": self.evaluated.outputs["evaluation"],
        }


def train_and_evaluate(
    config: str, data_uri: str, data_sha256: str, state: str, run: str, source_name: str
) -> Trained:
    """Add import -> ingest -> validate -> train -> evaluate to the pipeline being defined.

    Every step gets the state location, the run and its image: its start and end, and each
    read of patient data, are audit events of that run at that state location.
    """
    source = dsl.importer(
        artifact_uri=data_uri,
        artifact_class=dsl.Dataset,
        reimport=False,
        metadata={"sha256": data_sha256},
    ).set_display_name(source_name)
    source.set_caching_options(False)  # the object at a URI can change; ingest checks its digest
    audited = {"state": state, "run": run, "image": COMPONENT_IMAGE}
    ingested = ingest(config=config, source=source.output, expected_sha256=data_sha256, **audited)
    validated = validate(
        config=config, train=ingested.outputs["train"], test=ingested.outputs["test"], **audited
    )
    trained = train(config=config, train=ingested.outputs["train"], **audited).after(validated)
    evaluated = evaluate(
        config=config,
        model=trained.outputs["model"],
        comparator=trained.outputs["comparator"],
        test=ingested.outputs["test"],
        **audited,
    )
    for task, step in (
        (ingested, "ingest"),
        (validated, "validate"),
        (trained, "train"),
        (evaluated, "evaluate"),
    ):
        apply_step_settings(task, step)
    return Trained(source, ingested, validated, trained, evaluated)
