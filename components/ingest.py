"""ingest: check the raw data's digest and contract, write it typed, split it."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from samdops.components._image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def ingest(
    config: str,
    source: Input[Dataset],
    expected_sha256: str,
    state: str,
    run: str,
    image: str,
    dataset: Output[Dataset],
    train: Output[Dataset],
    test: Output[Dataset],
) -> None:
    """Refuse data that breaks its digest or contract; split it and register the test set.
    Its start, its read of the source and its end are audit events of run ``run``."""
    from samdops.steps.audited import StepRun
    from samdops.steps.training import ingest_step, run_step

    run_step(
        ingest_step,
        StepRun.of_component(state, run, image),
        config=config,
        source=source,
        expected_sha256=expected_sha256,
        dataset=dataset,
        train=train,
        test=test,
        state=state,
        run=run,
    )
