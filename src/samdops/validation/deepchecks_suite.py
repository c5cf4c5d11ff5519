"""The deepchecks implementation of :class:`samdops.validation.Validator` (AGPL-3.0)."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings
from typing import Any

import pandas as pd

from samdops.config import ValidationConfig
from samdops.validation import CheckOutcome, ValidationReport

SUITE_NAME = "samdops data validation (integrity + train/test)"


def _suite(config: ValidationConfig) -> Any:
    from deepchecks.tabular import Suite
    from deepchecks.tabular import checks as c

    return Suite(
        SUITE_NAME,
        c.IsSingleValue().add_condition_not_single_value(),
        c.MixedNulls().add_condition_different_nulls_less_equal_to(1),
        c.MixedDataTypes(),
        c.DataDuplicates().add_condition_ratio_less_or_equal(config.max_duplicate_ratio),
        c.ConflictingLabels().add_condition_ratio_of_conflicting_labels_less_or_equal(
            config.max_conflicting_label_ratio
        ),
        c.FeatureLabelCorrelation(random_state=config.seed).add_condition_feature_pps_less_than(
            config.max_feature_label_pps
        ),
        c.TrainTestSamplesMix().add_condition_duplicates_ratio_less_or_equal(
            config.max_train_test_mix_ratio
        ),
        c.NewLabelTrainTest().add_condition_new_labels_number_less_or_equal(0),
        c.FeatureDrift(random_state=config.seed).add_condition_drift_score_less_than(
            max_allowed_numeric_score=config.max_feature_drift,
            max_allowed_categorical_score=config.max_feature_drift,
        ),
        c.LabelDrift(random_state=config.seed).add_condition_drift_score_less_than(
            config.max_label_drift
        ),
        c.FeatureLabelCorrelationChange(
            random_state=config.seed
        ).add_condition_feature_pps_difference_less_than(config.max_pps_change),
    )


class DeepchecksValidator:
    """Runs one deepchecks suite with the integrity and train/test checks and their conditions."""

    def validate(
        self, train: pd.DataFrame, test: pd.DataFrame, label: str, config: ValidationConfig
    ) -> ValidationReport:
        quiet = io.StringIO()  # deepchecks draws progress bars on stdout and stderr
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(quiet),
            contextlib.redirect_stderr(quiet),
        ):
            warnings.simplefilter("ignore")  # deepchecks' own deprecation noise
            from deepchecks.tabular import Dataset

            result = _suite(config).run(
                train_dataset=Dataset(train, label=label, cat_features=[]),
                test_dataset=Dataset(test, label=label, cat_features=[]),
                with_display=False,
            )
            outcomes = []
            for check_result in result.results:
                header = check_result.get_header()
                for condition in getattr(check_result, "conditions_results", []):
                    outcomes.append(
                        CheckOutcome(
                            check=f"{header} ({condition.name})",
                            passed=bool(condition.is_pass()),
                            detail=str(condition.details),
                        )
                    )
            html = _html(result)
        return ValidationReport(suite=SUITE_NAME, outcomes=tuple(outcomes), html=html)


def _html(result: Any) -> bytes:
    # as_widget=False gives a self-contained page (no anywidget, no network at view time).
    # deepchecks renames the output when the file exists, so write into a fresh directory.
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "report.html")
        result.save_as_html(path, as_widget=False)
        with open(path, "rb") as f:
            return f.read()
