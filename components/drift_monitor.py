"""fetch_window, drift_monitor and record_alerts: the monitoring pipeline's thin components."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Output

from samdops.components._image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def fetch_window(
    reference_path: str,
    current_path: str,
    labels_path: str,
    window: str,
    state: str,
    id_column: str,
    time_column: str,
    run: str,
    image: str,
    reference: Output[Dataset],
    current: Output[Dataset],
    labels: Output[Dataset],
) -> str:
    """Fetch the reference, the window to check and the labels that arrived (may be none).
    An empty window means yesterday (UTC); ``{window}`` in a path is replaced by it.
    ``predictions://NAME`` is model NAME's prediction log at ``state`` (window ``N`` or
    ``day-N``: rows whose ``time_column // 24`` is N), ``labels://NAME`` its label feed."""
    from samdops.steps.audited import StepRun
    from samdops.steps.monitoring import fetch_window_step
    from samdops.steps.training import run_step

    return run_step(
        fetch_window_step,
        StepRun.of_component(state, run, image),
        reference_path=reference_path,
        current_path=current_path,
        labels_path=labels_path,
        window=window,
        reference=reference,
        current=current,
        labels=labels,
        state=state,
        id_column=id_column,
        time_column=time_column,
    )


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def drift_monitor(
    reference: Input[Dataset],
    current: Input[Dataset],
    labels: Input[Dataset],
    window: str,
    id_column: str,
    time_column: str,
    admission_column: str,
    categorical: str,
    ignore_columns: str,
    alpha: float,
    correction: str,
    backend: str,
    model_ref: str,
    state: str,
    run: str,
    image: str,
    report: Output[HTML],
    summary: Output[Markdown],
    findings: Output[Artifact],
    metrics: Output[Metrics],
) -> None:
    """Data drift of the window, and with a registered model its score drift and performance
    (measured on arrived labels, estimated otherwise): HTML report, summary, findings."""
    from samdops.steps.audited import StepRun
    from samdops.steps.monitoring import MonitorOptions, drift_monitor_step
    from samdops.steps.training import run_step

    options = MonitorOptions.from_mapping(locals())  # this component's option parameters
    outcome = run_step(
        drift_monitor_step,
        StepRun.of_component(state, run, image),
        reference=reference,
        current=current,
        labels=labels,
        window=window,
        options=options,
        report=report,
        summary=summary,
        findings=findings,
    )
    metrics.log_metric("is_drift", float(bool(outcome["is_drift"])))
    metrics.log_metric("drifted_tests", float(outcome["drifted_tests"]))
    metrics.log_metric("alerts", float(outcome["alerts"]))
    if outcome["auroc"] is not None:
        metrics.log_metric("auroc", float(outcome["auroc"]))


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def record_alerts(
    findings: Input[Artifact], state: str, run: str, retrain_plan_id: str, image: str
) -> str:
    """Record each alert as an audit entry and SIEM event; return "retrain" when a critical
    alert should start retraining under PCCP ``retrain_plan_id`` (empty: never)."""
    from samdops.steps.audited import StepRun
    from samdops.steps.monitoring import record_alerts_step
    from samdops.steps.training import run_step

    return run_step(
        record_alerts_step,
        StepRun.of_component(state, run, image),
        findings=findings,
        state=state,
        run=run,
        retrain_plan_id=retrain_plan_id,
    )
