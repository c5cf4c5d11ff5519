"""train: the configured model and its comparator, deterministic to the byte."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from samdops.components._image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def train(
    config: str,
    train: Input[Dataset],
    state: str,
    run: str,
    image: str,
    model: Output[Model],
    comparator: Output[Model],
) -> None:
    """Fit the model and the comparator on the training set; record cross-validated AUROC."""
    from samdops.steps.audited import StepRun
    from samdops.steps.training import run_step, train_step

    where = StepRun.of_component(state, run, image)
    run_step(train_step, where, config=config, train=train, model=model, comparator=comparator)
