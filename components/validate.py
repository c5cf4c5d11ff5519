"""validate: the data contract and the validation suite on the train/test split."""

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Output

from samdops.components._image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def validate(
    config: str, train: Input[Dataset], test: Input[Dataset], report: Output[HTML]
) -> None:
    """Stop the run when a contract or validation condition fails; publish the HTML report."""
    from samdops.steps.training import run_step, validate_step

    run_step(validate_step, config=config, train=train, test=test, report=report)
