"""The monitoring DAG: fetch window -> drift monitor -> record alerts [-> retraining].

Scheduled in the cluster as a KFP recurring run of this compiled pipeline (``samdops schedule``
with a 6-field cron such as ``"0 0 2 * * *"``; the chart's monitoring Job creates it), so every
window's HTML report shows in the Kubeflow UI; runnable through kfp.local. An empty ``window``
means yesterday (UTC) and ``{window}`` in a path is replaced by it. ``current_path``
``predictions://NAME`` monitors what the model server answered (model NAME's prediction log at
``state``; ``window`` is then a day of the rows' clock, ``N`` or ``day-N``) and
``labels_path`` ``labels://NAME`` takes the labels that arrived that day from the label feed.

Parameters are run-time values only (no secrets): the model's registry ref and the state
location (empty: each step's ``$SAMDOPS_STATE``, which the chart's runtime ConfigMap sets). A
critical alert starts the retraining stages only when a PCCP plan, config and data are given
(``retrain_*``; empty: never). They end with the PCCP gate and a *candidate* registration: no
step of this pipeline can release a model.
"""

from kfp import dsl

from samdops.cluster.kube import apply_step_settings, pipeline_root
from samdops.components._image import COMPONENT_IMAGE
from samdops.components.drift_monitor import drift_monitor, fetch_window, record_alerts
from samdops.hospital.columns import CATEGORICAL_SPEC, ICULOS
from samdops.pipelines.retraining import retraining_pipeline

PIPELINE_NAME = "samdops-monitoring"
RETRAIN_CONDITION = "retrain"


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Check one window for data and concept drift, record alerts as audit events, "
    "and on a critical alert retrain under the PCCP (candidate only; samdops).",
    pipeline_root=pipeline_root(),
)
def monitoring_pipeline(
    reference_path: str,
    current_path: str,
    labels_path: str = "",
    window: str = "",
    model_ref: str = "",
    state: str = "",
    run: str = "",
    id_column: str = "patient_id",
    time_column: str = "Time",
    admission_column: str = ICULOS,
    categorical: str = CATEGORICAL_SPEC,
    ignore_columns: str = "",
    alpha: float = 0.01,
    correction: str = "bonferroni",
    backend: str = "scipy",
    retrain_plan_id: str = "",
    retrain_config: str = "",
    retrain_data_uri: str = "",
    retrain_data_sha256: str = "",
    pipeline_spec_sha256: str = "",
) -> None:
    fetched = fetch_window(
        reference_path=reference_path,
        current_path=current_path,
        labels_path=labels_path,
        window=window,
        state=state,
        id_column=id_column,
        time_column=time_column,
        run=run,
        image=COMPONENT_IMAGE,
    )
    apply_step_settings(fetched, "fetch-window")
    checked = drift_monitor(
        reference=fetched.outputs["reference"],
        current=fetched.outputs["current"],
        labels=fetched.outputs["labels"],
        window=fetched.outputs["Output"],
        id_column=id_column,
        time_column=time_column,
        admission_column=admission_column,
        categorical=categorical,
        ignore_columns=ignore_columns,
        alpha=alpha,
        correction=correction,
        backend=backend,
        model_ref=model_ref,
        state=state,
        run=run,
        image=COMPONENT_IMAGE,
    )
    apply_step_settings(checked, "drift-monitor")
    recorded = record_alerts(
        findings=checked.outputs["findings"],
        state=state,
        run=run,
        retrain_plan_id=retrain_plan_id,
        image=COMPONENT_IMAGE,
    )
    apply_step_settings(recorded, "record-alerts")
    with dsl.If(recorded.output == RETRAIN_CONDITION, name="critical-alert-retrain"):
        retraining_pipeline(
            config=retrain_config,
            data_uri=retrain_data_uri,
            plan_id=retrain_plan_id,
            data_sha256=retrain_data_sha256,
            state=state,
            run=run,
            pipeline_spec_sha256=pipeline_spec_sha256,
        )
