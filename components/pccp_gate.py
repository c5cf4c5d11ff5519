"""pccp-gate: compare the candidate with the released model and decide under the plan in force."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Model, Output

from samdops.components._image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def pccp_gate(
    config: str,
    plan_id: str,
    state: str,
    run: str,
    image: str,
    model: Input[Model],
    train: Input[Dataset],
    test: Input[Dataset],
    evaluation: Input[Artifact],
    change_record: Output[Artifact],
    report: Output[HTML],
    summary: Output[Markdown],
) -> None:
    """Check scope, data, test independence, acceptance and non-inferiority; show the report."""
    from samdops.steps.audited import StepRun
    from samdops.steps.training import pccp_gate_step, run_step

    run_step(
        pccp_gate_step,
        StepRun.of_component(state, run, image),
        config=config,
        plan_id=plan_id,
        state=state,
        model=model,
        train=train,
        test=test,
        evaluation=evaluation,
        change_record=change_record,
        report=report,
        summary=summary,
    )
