"""Data validation behind samdops' own interface.

:class:`Validator` is what pipelines call; :mod:`samdops.validation.deepchecks_suite` implements
it with deepchecks (AGPL-3.0), which a deployment can replace with any other implementation of
the protocol without touching a pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from samdops.atomic import atomic_write_bytes
from samdops.config import DataContract, ValidationConfig
from samdops.errors import ValidationFailed
from samdops.training.contract import apply_contract


@dataclass(frozen=True)
class CheckOutcome:
    """One check's condition result: ``passed`` is False when the condition failed."""

    check: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of a validation run, with a self-contained HTML rendering."""

    suite: str
    outcomes: tuple[CheckOutcome, ...]
    html: bytes

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def failures(self) -> tuple[CheckOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.passed)


class Validator(Protocol):
    """Validates a train/test pair; returns a report, never raises on a failed condition."""

    def validate(
        self, train: pd.DataFrame, test: pd.DataFrame, label: str, config: ValidationConfig
    ) -> ValidationReport: ...


def default_validator() -> Validator:
    """The validator shipped with samdops (deepchecks)."""
    from samdops.validation.deepchecks_suite import DeepchecksValidator

    return DeepchecksValidator()


def validate_split(
    train_path: str | Path,
    test_path: str | Path,
    contract: DataContract,
    config: ValidationConfig,
    report_out: str | Path,
    validator: Validator | None = None,
) -> ValidationReport:
    """Re-check the contract on both sides, run the validator, save its HTML report.

    The report is written before a failure is raised, so the evidence of a failed run is kept.
    """
    frames = []
    for side, path in (("train", train_path), ("test", test_path)):
        frame = pd.read_parquet(path)
        try:
            apply_contract(frame, contract)
        except Exception as exc:
            raise ValidationFailed(f"{side} set breaks the data contract: {exc}") from exc
        frames.append(frame)
    if contract.group is not None:  # a group id is not a feature: check it, then leave it out
        shared = set(frames[0][contract.group]) & set(frames[1][contract.group])
        if shared:
            raise ValidationFailed(
                f"{len(shared)} {contract.group} group(s) have rows in both the training and the "
                f"test set (e.g. {min(shared)}); the split must keep each group on one side"
            )
        frames = [frame.drop(columns=[contract.group]) for frame in frames]
    report = (validator or default_validator()).validate(
        frames[0], frames[1], contract.label, config
    )
    atomic_write_bytes(report_out, report.html)
    if not report.passed:
        listed = "; ".join(f"{f.check}: {f.detail}" for f in report.failures)
        raise ValidationFailed(
            f"{len(report.failures)} data validation condition(s) failed: {listed} "
            f"(report: {report_out})"
        )
    return report
