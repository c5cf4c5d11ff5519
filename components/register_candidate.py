"""register-candidate: register a retrained model with its PCCP change record."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Model, Output

from samdops.components._image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def register_candidate(
    config: str,
    source: Input[Dataset],
    dataset: Input[Dataset],
    train: Input[Dataset],
    test: Input[Dataset],
    validation_report: Input[HTML],
    model: Input[Model],
    comparator: Input[Model],
    evaluation: Input[Artifact],
    change_record: Input[Artifact],
    state: str,
    run: str,
    image: str,
    summary: Output[Markdown],
    record: Output[Artifact],
    pipeline_spec: str = "",
) -> None:
    """Register as a candidate (or as rejected / outside the plan, and fail the run)."""
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
        change_record=change_record,
    )
