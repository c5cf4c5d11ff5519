"""register: store every artifact by digest and write the registry record with lineage."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Model, Output

from samdops.components._image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def register(
    config: str,
    source: Input[Dataset],
    dataset: Input[Dataset],
    train: Input[Dataset],
    test: Input[Dataset],
    validation_report: Input[HTML],
    model: Input[Model],
    comparator: Input[Model],
    evaluation: Input[Artifact],
    state: str,
    run: str,
    image: str,
    summary: Output[Markdown],
    record: Output[Artifact],
    pipeline_spec: str = "",
) -> None:
    """Register the model (status gate_failed when a criterion was missed) and summarise the run."""
    from samdops.steps.audited import StepRun
    from samdops.steps.training import register_step, run_step

    run_step(
        register_step,
        StepRun.of_component(state, run, image),
        config=config,
        source=source,
        dataset=dataset,
        train=train,
        test=test,
        validation_report=validation_report,
        model=model,
        comparator=comparator,
        evaluation=evaluation,
        state=state,
        run=run,
        image=image,
        summary=summary,
        record=record,
        pipeline_spec=pipeline_spec,
    )
