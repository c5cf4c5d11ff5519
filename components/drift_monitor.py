"""fetch_window, drift_monitor and record_alerts: the monitoring pipeline's thin components."""

from typing import Any

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Output

from samdops.components._image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def fetch_window(
    reference_path: str,
    current_path: str,
    reference: Output[Dataset],
    current: Output[Dataset],
) -> None:
    """Fetch the reference (training data) and the window to check."""
    from samdops.drift.step import fetch_window_step
    from samdops.steps import run_step

    run_step(
        fetch_window_step,
        reference_path=reference_path,
        current_path=current_path,
        reference=reference,
        current=current,
    )


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def drift_monitor(
    reference: Input[Dataset],
    current: Input[Dataset],
    window: str,
    id_column: str,
    time_column: str,
    categorical: str,
    alpha: float,
    correction: str,
    report: Output[HTML],
    summary: Output[Markdown],
    findings: Output[Artifact],
    metrics: Output[Metrics],
) -> None:
    """Data drift of the window against the reference: HTML report, summary, findings."""
    from samdops.drift.step import drift_monitor_step
    from samdops.steps import run_step

    outcome: dict[str, Any] = {}

    def step() -> None:
        outcome.update(
            drift_monitor_step(
                reference=reference,
                current=current,
                window=window,
                id_column=id_column,
                time_column=time_column,
                categorical=categorical,
                alpha=alpha,
                correction=correction,
                report=report,
                summary=summary,
                findings=findings,
            )
        )

    run_step(step)
    metrics.log_metric("is_drift", float(bool(outcome["is_drift"])))
    metrics.log_metric("drifted_tests", float(outcome["drifted_tests"]))


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def record_alerts(findings: Input[Artifact], alert_log: str) -> bool:
    """Emit the window's alert (audit entry and SIEM event via the alert sink)."""
    from samdops.drift.step import record_alerts_step
    from samdops.steps import run_step

    emitted: list[bool] = []
    run_step(lambda: emitted.append(record_alerts_step(findings=findings, alert_log=alert_log)))
    return emitted[0]
