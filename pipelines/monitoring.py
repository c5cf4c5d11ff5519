"""The monitoring DAG: fetch window -> drift monitor -> record alerts.

Scheduled daily in the cluster (``samdops schedule`` with a 6-field cron such as
``"0 0 2 * * *"``); runnable through kfp.local. An alert never releases a model: it may start
the retraining pipeline, which goes through the change-control gate.
"""

from kfp import dsl

from samdops.components.drift_monitor import drift_monitor, fetch_window, record_alerts
from samdops.kube import pipeline_root

PIPELINE_NAME = "samdops-monitoring"


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Check one window of model inputs for drift and record alerts (samdops).",
    pipeline_root=pipeline_root(),
)
def monitoring_pipeline(
    reference_path: str,
    current_path: str,
    alert_log: str,
    window: str = "",
    id_column: str = "patient_id",
    time_column: str = "Time",
    categorical: str = "Gender,Unit1,Unit2",
    alpha: float = 0.01,
    correction: str = "bonferroni",
) -> None:
    fetched = fetch_window(reference_path=reference_path, current_path=current_path)
    checked = drift_monitor(
        reference=fetched.outputs["reference"],
        current=fetched.outputs["current"],
        window=window,
        id_column=id_column,
        time_column=time_column,
        categorical=categorical,
        alpha=alpha,
        correction=correction,
    )
    record_alerts(findings=checked.outputs["findings"], alert_log=alert_log)
