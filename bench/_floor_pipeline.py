"""The floor of a kfp.local run: five chained tasks that do nothing but start (``empty``),
import pandas (``pandas``, which every step needs to read its Parquet inputs), import what
every samdops step imports before its own work (``samdops``: pandas, the step procedures and the
typed configuration it parses), or that and also append a step's start and end to the audit log
of ``$SAMDOPS_HOME`` as every step does (``audited``: the log opened, two signed checkpoints).

``python bench/_floor_pipeline.py ROOT MODE``: the same runner and task count as
``samdops run train`` (ingest -> validate -> train -> evaluate -> register).
"""

import sys

from kfp import dsl, local


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def step(previous: str, mode: str) -> str:
    if mode in ("pandas", "samdops", "audited"):
        import pandas  # noqa: F401
    if mode in ("samdops", "audited"):
        import samdops.config
        import samdops.steps.training  # noqa: F401
    if mode == "audited":
        from samdops.steps.audited import StepRun, audited_call

        def noop() -> None:
            """A step that does nothing but be audited."""

        audited_call(noop, StepRun("", "floor", "bench (no image)"), (), {})
    return previous


@dsl.pipeline
def five(mode: str) -> None:
    task = step(previous="", mode=mode)
    for _ in range(4):
        task = step(previous=task.output, mode=mode)


if __name__ == "__main__":
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=sys.argv[1])
    five(mode=sys.argv[2])
