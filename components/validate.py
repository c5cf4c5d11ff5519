"""validate: the data contract and the validation suite on the train/test split."""

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Output

from samdops.components._image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def validate(
    config: str,
    train: Input[Dataset],
    test: Input[Dataset],
    state: str,
    run: str,
    image: str,
    report: Output[HTML],
) -> None:
    """Stop the run when a contract or validation condition fails; publish the HTML report."""
    from samdops.steps.audited import StepRun
    from samdops.steps.training import load_validator, run_step, validate_step

    load_validator()  # before the step's start event (see its docstring)
    where = StepRun.of_component(state, run, image)
    run_step(validate_step, where, config=config, train=train, test=test, report=report)
