"""evaluate: metrics with bootstrap CIs, calibration, subgroups and the acceptance gate."""

from kfp import dsl
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from samdops.components._image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def evaluate(
    config: str,
    model: Input[Model],
    comparator: Input[Model],
    test: Input[Dataset],
    state: str,
    run: str,
    image: str,
    evaluation: Output[Artifact],
    metrics: Output[Metrics],
    curves: Output[ClassificationMetrics],
) -> None:
    """Evaluate on the held-out test set and decide the gate; show metrics and ROC in the UI."""
    from samdops.steps.audited import StepRun
    from samdops.steps.training import evaluate_step, run_step

    run_step(
        evaluate_step,
        StepRun.of_component(state, run, image),
        config=config,
        model=model,
        comparator=comparator,
        test=test,
        evaluation=evaluation,
        metrics=metrics,
        curves=curves,
    )
