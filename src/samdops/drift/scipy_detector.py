"""Data-drift detector on scipy only (permissive licence); alibi-detect can plug in its tests.

Per window it runs, each on non-missing values: KS (continuous) or Chi-square (categorical) on
the values, Chi-square on each group of one-hot columns as one variable (a category the
reference never had, such as a new unit, is its own category), Mann-Whitney U on the per-stay
missing rate, KS on the per-stay maximum model score and Fisher's exact test on the share of
stays alerted, and a multivariate domain-classifier test (on by default); then corrects all
p-values for the number of tests. A window with fewer than five units is not tested.
Certain findings need no test and no correction: values that are not finite or outside the data
contract's ``ranges``, and categories (numbers or strings) the reference never had.
With an ``admission_column``, the stays admitted within the window are tested again on their own,
since the stays already there dilute a change in who is admitted; their continuous features with
Mann-Whitney U by default, as such a change is mostly a shift (older, sicker admissions).
With an ``id_column`` the unit of a test is a stay (a per-stay summary, or one sampled row per
stay), never an hour, because the hours of one stay are strongly correlated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, Self

import numpy as np
import pandas as pd
from scipy import stats

from samdops._types import Array
from samdops.drift.aggregate import sample_one_row_per_stay, stay_missing_rate, stay_summary
from samdops.drift.alerts import NEW_CATEGORY
from samdops.drift.correction import reject
from samdops.drift.findings import (
    alert_share_finding,
    category_finding,
    missing_finding,
    new_category_finding,
    non_finite_finding,
    out_of_range_finding,
    value_finding,
)
from samdops.drift.multivariate import domain_classifier_test
from samdops.drift.result import DataDriftResult, FeatureDrift, TestKind
from samdops.errors import ConfigError, DataContractError, DriftInputError

UnivariateTest = Callable[[Array, Array], tuple[float, float]]


@dataclass(frozen=True)
class ValidRange:
    """A feature's valid values, from a data contract (``None``: unbounded); its missing codes
    are not values."""

    low: float | None = None
    high: float | None = None
    missing_codes: tuple[float, ...] = ()


class MultivariateTest(Protocol):
    """A test of all features at once; ``reference_groups`` names each reference unit's stay."""

    def __call__(
        self, reference: Array, current: Array, *, reference_groups: Array | None = None
    ) -> tuple[float, float]: ...


Scorer = Callable[[pd.DataFrame], Array]
StayMode = Literal["summary", "sample"]
_MIN_SAMPLES = 5
NON_FINITE, OUT_OF_RANGE = "not finite", "outside range"
# One test before correction: feature, kind, test name, statistic, p-value, finding (lazily).
_Raw = tuple[str, TestKind, str, float, float, Callable[[], str]]


def ks_test(reference: Array, current: Array) -> tuple[float, float]:
    result = stats.ks_2samp(reference, current, method="asymp")
    return float(result.statistic), float(result.pvalue)


def chi2_test(reference: Array, current: Array) -> tuple[float, float]:
    categories = np.union1d(reference, current)
    if len(categories) < 2:
        return 0.0, 1.0
    table = np.array(
        [[np.sum(reference == c) for c in categories], [np.sum(current == c) for c in categories]]
    )
    statistic, p_value, _, _ = stats.chi2_contingency(table)
    return float(statistic), float(p_value)


def alert_share_test(reference: Array, current: Array) -> tuple[float, float]:
    """Fisher's exact test on the share of units alerted (booleans), both samples' noise kept."""
    table = np.array(
        [
            [reference.sum(), len(reference) - reference.sum()],
            [current.sum(), len(current) - current.sum()],
        ]
    )
    if table[:, 0].sum() == 0 or table[:, 1].sum() == 0:
        return 1.0, 1.0
    result = stats.fisher_exact(table)
    return float(result.statistic), float(result.pvalue)


def group_codes(values: pd.DataFrame, columns: Sequence[str]) -> Array:
    """One category label per unit from one-hot ``columns`` ('1.0/0.0'); units with NaN dropped."""
    part = values[list(columns)].dropna()
    if part.empty:
        return np.array([], dtype=str)
    codes: Array = part.astype(str).agg("/".join, axis=1).to_numpy(dtype=str)
    return codes


def category_labels(column: pd.Series) -> pd.Series:
    """A categorical column as text labels (NaN where missing), whatever its type: numbers as
    ``'1.0'`` (rounded to 6 digits) whether stored as numbers or mixed among strings."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = np.round(column.to_numpy(dtype=float), 6)
        present = ~np.isnan(values)
        unique, inverse = np.unique(values[present], return_inverse=True)
        out = np.full(len(values), np.nan, dtype=object)
        out[present] = np.array([str(float(u)) for u in unique], dtype=object)[inverse]
        return pd.Series(out, index=column.index)
    return column.map(_label, na_action="ignore").astype(object)


def _label(value: object) -> object:
    """Numbers, and text that spells a finite number ("1" from a CSV), label alike."""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        number = float(value)
        return np.nan if np.isnan(number) else str(float(round(number, 6)))
    text = str(value)
    try:
        number = float(text)
    except (ValueError, OverflowError):
        return text
    return str(float(round(number, 6))) if np.isfinite(number) else text


def rank_sum_test(reference: Array, current: Array) -> tuple[float, float]:
    """Mann-Whitney U, two-sided: a rank test with more power than KS against a shift."""
    if np.ptp(np.concatenate([reference, current])) == 0:
        return 0.0, 1.0
    result = stats.mannwhitneyu(reference, current, alternative="two-sided")
    return float(result.statistic), float(result.pvalue)


class ScipyDriftDetector:
    """Configure in the constructor, then ``fit(reference)`` and ``predict(window)``."""

    def __init__(
        self,
        features: Sequence[str],
        *,
        categorical: Sequence[str] = (),
        id_column: str | None = None,
        time_column: str | None = None,
        window_hours: int = 24,
        stay_mode: StayMode = "summary",
        alpha: float = 0.01,
        correction: str = "bonferroni",
        scorer: Scorer | None = None,
        category_groups: Mapping[str, Sequence[str]] | None = None,
        alert_threshold: float | None = None,
        multivariate: MultivariateTest | None = domain_classifier_test,
        multivariate_exclude: Sequence[str] = (),
        continuous_test: UnivariateTest = ks_test,
        continuous_test_name: str = "KS",
        multivariate_test_name: str = "Classifier",
        admission_column: str | None = None,
        admission_test: UnivariateTest = rank_sum_test,
        admission_test_name: str = "MannWhitneyU",
        ranges: Mapping[str, ValidRange] | None = None,
        seed: int = 0,
    ) -> None:
        unknown = set(categorical) - set(features)
        if unknown:
            raise ConfigError(f"categorical columns {sorted(unknown)} are not among the features")
        groups = {k: tuple(v) for k, v in (category_groups or {}).items()}
        ungrouped = {c for cols in groups.values() for c in cols} - set(features)
        if ungrouped:
            raise ConfigError(
                f"category group columns {sorted(ungrouped)} are not among the features"
            )
        reject(np.array([]), alpha, correction)  # validates alpha and correction
        self.features = tuple(features)
        self.categorical = frozenset(categorical)
        self.id_column = id_column
        self.time_column = time_column
        self.window_hours = window_hours
        self.stay_mode = stay_mode
        self.alpha = alpha
        self.correction = correction
        self.scorer = scorer
        self.category_groups = groups
        self.alert_threshold = alert_threshold
        self.multivariate = multivariate
        # Time since admission describes the census, not the patients: one day's stays share
        # the admission history of the days before, so they are not independent samples of
        # it, and a classifier turns that into false alarms. It is tested on its own.
        excluded = {*multivariate_exclude, *([admission_column] if admission_column else [])}
        self.multivariate_features = tuple(f for f in features if f not in excluded)
        self.continuous_test = continuous_test
        self.continuous_test_name = continuous_test_name
        self.multivariate_test_name = multivariate_test_name
        self.admission_column = admission_column
        self.admission_test = admission_test
        self.admission_test_name = admission_test_name
        self.ranges = {k: v for k, v in (ranges or {}).items() if k in self.features}
        self.seed = seed
        self._ref_categories: dict[str, frozenset[str]] = {}
        self._ref_admitted: tuple[pd.DataFrame, Array | None] | None = None
        self._ref_values: pd.DataFrame | None = None
        self._ref_missing: pd.DataFrame | None = None
        self._ref_scores: Array | None = None
        self._ref_groups: Array | None = None

    @property
    def unit(self) -> str:
        if self.id_column is None:
            return "row"
        return "stay" if self.stay_mode == "summary" else "sampled row per stay"

    def fit(self, reference: pd.DataFrame) -> Self:
        self._check_columns(reference, "reference")
        original, reference = reference, self._labelled(reference)
        for name in self.features:
            if name not in self.categorical:
                bad = int(np.isinf(reference[name].to_numpy(dtype=float)).sum())
                if bad:
                    raise DriftInputError(
                        f"reference column {name} has {bad} values that are not finite (inf); "
                        "monitor against a clean reference"
                    )
        self._ref_categories = {
            **{c: frozenset(reference[c].dropna()) for c in self.categorical},
            **{
                g: frozenset(group_codes(reference, cols))
                for g, cols in self.category_groups.items()
            },
        }
        frame = reference
        if self.id_column is not None and self.time_column in reference.columns:
            # The reference spans many days: summarise stay-windows as long as the monitored
            # windows, then sample as many stay-windows as there are stays. Sampling windows
            # (not one per stay) keeps a day's census mix, where long stays are present on more
            # days; sampling only as many as there are stays keeps the reference's weight honest.
            key = (
                reference[self.id_column].astype("int64", errors="ignore").astype(str)
                + ":"
                + (reference[self.time_column] // self.window_hours).astype(str)
            )
            frame = reference.assign(_stay_window=key.to_numpy())
            values, missing, scores = self._units(frame, "_stay_window", original)
            self._ref_admitted = self._admitted(frame, "_stay_window", values, scores)
            owner = frame.groupby("_stay_window", sort=True)[self.id_column].first()
            rng = np.random.default_rng(self.seed)
            chosen = np.sort(rng.choice(len(owner), owner.nunique(), replace=False))
            self._ref_values = values.iloc[chosen]
            self._ref_missing = missing.iloc[chosen]
            self._ref_scores = None if scores is None else scores[chosen]
            self._ref_groups = owner.to_numpy()[chosen]
        else:
            values, missing, scores = self._units(frame, self.id_column, original)
            self._ref_values, self._ref_missing, self._ref_scores = values, missing, scores
            self._ref_groups = None
            self._ref_admitted = self._admitted(frame, self.id_column, values, scores)
        return self

    def predict(self, window: pd.DataFrame) -> DataDriftResult:
        if self._ref_values is None or self._ref_missing is None:
            raise ConfigError("the detector must be fitted on a reference before predict()")
        self._check_columns(window, "current window")
        original, window = window, self._labelled(window)
        values, missing, scores = self._units(window, self.id_column, original)
        tested = min(len(values), len(self._ref_values)) >= _MIN_SAMPLES
        raw = self._tests(values, missing, scores, window) if tested else []
        significant = reject(np.array([r[4] for r in raw]), self.alpha, self.correction)
        tests = tuple(
            FeatureDrift(
                name=name,
                kind=kind,
                test=test,
                statistic=stat,
                p_value=p,
                is_drift=bool(flag),
                finding=(make() or None) if flag else None,
            )
            for (name, kind, test, stat, p, make), flag in zip(raw, significant, strict=True)
        )
        quality = self._quality(window, values)
        return DataDriftResult(
            is_drift=bool(significant.any()) or bool(quality),
            tests=tests + quality,
            alpha=self.alpha,
            correction=self.correction,
            n_reference=len(self._ref_values),
            n_current=len(values),
            unit=self.unit,
            tested=tested,
            min_units=_MIN_SAMPLES,
        )

    def _tests(
        self,
        values: pd.DataFrame,
        missing: pd.DataFrame,
        scores: Array | None,
        window: pd.DataFrame,
    ) -> list[_Raw]:
        assert self._ref_values is not None and self._ref_missing is not None
        raw: list[_Raw] = []
        for name in self.features:
            ref, cur = self._samples(self._ref_values[name], values[name], name)
            if len(ref) >= _MIN_SAMPLES and len(cur) >= _MIN_SAMPLES:
                if name in self.categorical:
                    stat, p = chi2_test(ref, cur)
                    raw.append(
                        (name, "value", "Chi2", stat, p, _lazy(category_finding, name, ref, cur))
                    )
                else:
                    stat, p = self.continuous_test(ref, cur)
                    finding = _lazy(value_finding, name, ref, cur)
                    raw.append((name, "value", self.continuous_test_name, stat, p, finding))
            ref_m = self._ref_missing[name].to_numpy()
            cur_m = missing[name].to_numpy()
            if ref_m.any() or cur_m.any():
                stat, p = rank_sum_test(ref_m, cur_m)
                finding = _lazy(missing_finding, name, float(ref_m.mean()), float(cur_m.mean()))
                raw.append((name, "missingness", "MannWhitneyU", stat, p, finding))
        raw += self._group_tests(self._ref_values, values, "")
        if scores is not None and self._ref_scores is not None:
            raw += self._score_tests(self._ref_scores, scores, "")
        admitted = self._admitted(window, self.id_column, values, scores)
        if admitted is not None and self._ref_admitted is not None:
            raw += self._admission_tests(self._ref_admitted, admitted)
        if self.multivariate is not None:
            ref_x, cur_x = self._matrix(self._ref_values), self._matrix(values)
            stat, p = self.multivariate(ref_x, cur_x, reference_groups=self._ref_groups)
            finding = _lazy(_multivariate_finding, stat)
            name = self.multivariate_test_name
            raw.append(("all features", "multivariate", name, stat, p, finding))
        return raw

    def _quality(self, window: pd.DataFrame, values: pd.DataFrame) -> tuple[FeatureDrift, ...]:
        """Findings that need no test: values that are not finite or out of the contract's
        range (counted in rows), categories the reference never had (counted in units)."""
        out: list[FeatureDrift] = []
        rows = len(window)
        for name in self.features:
            if name in self.categorical:
                continue
            column = window[name].to_numpy(dtype=float)
            n_inf = int(np.isinf(column).sum())
            if n_inf:
                out.append(_certain(name, NON_FINITE, n_inf, non_finite_finding(name, n_inf, rows)))
            valid = self.ranges.get(name, ValidRange())
            low, high = valid.low, valid.high
            finite = column[np.isfinite(column) & ~np.isin(column, valid.missing_codes)]
            floor, ceiling = -np.inf if low is None else low, np.inf if high is None else high
            outside = finite[(finite < floor) | (finite > ceiling)]
            if len(outside):
                extreme = float(outside[np.argmax(np.abs(outside))])
                finding = out_of_range_finding(name, len(outside), rows, low, high, extreme)
                out.append(_certain(name, OUT_OF_RANGE, len(outside), finding))
        noun = "row" if self.id_column is None else "stay"
        units = {c: values[c] for c in self.categorical} | {
            g: pd.Series(group_codes(values, cols)) for g, cols in self.category_groups.items()
        }
        for name, unit_values in units.items():
            present = unit_values.dropna()
            new_mask = ~present.isin(self._ref_categories.get(name, frozenset()))
            if new_mask.any():
                new = sorted(set(present[new_mask]))
                finding = new_category_finding(name, new, int(new_mask.sum()), len(values), noun)
                out.append(_certain(name, NEW_CATEGORY, int(new_mask.sum()), finding))
        return tuple(out)

    def _samples(self, reference: pd.Series, current: pd.Series, name: str) -> tuple[Array, Array]:
        """The values a test compares: finite numbers, or present category labels."""
        if name in self.categorical:
            return reference.dropna().to_numpy(dtype=object), current.dropna().to_numpy(
                dtype=object
            )
        return _finite(reference.to_numpy()), _finite(current.to_numpy())

    def _matrix(self, values: pd.DataFrame) -> Array:
        """The multivariate test's numbers: a category as its rank among the reference's
        categories (-1 for one the reference never had)."""
        columns = []
        for name in self.multivariate_features:
            if name in self.categorical:
                known = sorted(self._ref_categories.get(name, ()))
                codes = values[name].map({c: float(i) for i, c in enumerate(known)})
                codes = codes.where(values[name].isna(), codes.fillna(-1.0))
                columns.append(codes.to_numpy(dtype=float))
            else:
                columns.append(values[name].to_numpy(dtype=float))
        matrix: Array = np.column_stack(columns) if columns else np.empty((len(values), 0))
        return matrix

    def _labelled(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not self.categorical:
            return frame
        return frame.assign(**{c: category_labels(frame[c]) for c in self.categorical})

    def _admitted(
        self, frame: pd.DataFrame, key: str | None, values: pd.DataFrame, scores: Array | None
    ) -> tuple[pd.DataFrame, Array | None] | None:
        """The stays admitted within the window: case-mix drift shows first in them."""
        if self.admission_column is None or key is None:
            return None
        first_hour = frame.groupby(key, sort=True)[self.admission_column].min().to_numpy()
        mask = first_hour <= 1
        return values[mask], None if scores is None else scores[mask]

    def _admission_tests(
        self,
        reference: tuple[pd.DataFrame, Array | None],
        current: tuple[pd.DataFrame, Array | None],
    ) -> list[_Raw]:
        out: list[_Raw] = []
        ref_values, ref_scores = reference
        cur_values, cur_scores = current
        for name in self.features:
            if name == self.admission_column:
                continue
            ref, cur = self._samples(ref_values[name], cur_values[name], name)
            if len(ref) < _MIN_SAMPLES or len(cur) < _MIN_SAMPLES:
                continue
            if name in self.categorical:
                stat, p = chi2_test(ref, cur)
                test, finding = "Chi2", _lazy(category_finding, name, ref, cur)
            else:
                stat, p = self.admission_test(ref, cur)
                test, finding = self.admission_test_name, _lazy(value_finding, name, ref, cur)
            out.append((name, "value", f"{test} (new admissions)", stat, p, finding))
        out += self._group_tests(ref_values, cur_values, " (new admissions)")
        if ref_scores is not None and cur_scores is not None and len(cur_scores) >= _MIN_SAMPLES:
            out += self._score_tests(ref_scores, cur_scores, " (new admissions)")
        return out

    def _group_tests(
        self, reference: pd.DataFrame, current: pd.DataFrame, suffix: str
    ) -> list[_Raw]:
        out: list[_Raw] = []
        for name, columns in self.category_groups.items():
            ref, cur = group_codes(reference, columns), group_codes(current, columns)
            if len(ref) < _MIN_SAMPLES or len(cur) < _MIN_SAMPLES:
                continue
            stat, p = chi2_test(ref, cur)
            label = f"{name} ({'/'.join(columns)})"
            out.append(
                (name, "value", f"Chi2{suffix}", stat, p, _lazy(category_finding, label, ref, cur))
            )
        return out

    def _score_tests(self, reference: Array, current: Array, suffix: str) -> list[_Raw]:
        what = "model score of new admissions" if suffix else "model score (per-stay max)"
        stat, p = ks_test(reference, current)
        out: list[_Raw] = [
            (
                "score",
                "score",
                f"KS{suffix}",
                stat,
                p,
                _lazy(value_finding, what, reference, current),
            )
        ]
        if self.alert_threshold is not None:
            ref_alerted = reference >= self.alert_threshold
            cur_alerted = current >= self.alert_threshold
            stat, p = alert_share_test(ref_alerted, cur_alerted)
            finding = _lazy(
                alert_share_finding, what, float(ref_alerted.mean()), float(cur_alerted.mean())
            )
            out.append(("score", "score", f"Fisher alert share{suffix}", stat, p, finding))
        return out

    def _units(
        self, frame: pd.DataFrame, key: str | None, scored: pd.DataFrame
    ) -> tuple[pd.DataFrame, pd.DataFrame, Array | None]:
        """Per-unit values, missing rates and maximum scores; the model scores ``scored``, the
        rows of ``frame`` as they were given (before categories became labels)."""
        features = list(self.features)
        if key is None:
            scores = None if self.scorer is None else np.asarray(self.scorer(scored), dtype=float)
            return frame[features], frame[features].isna().astype(float), scores
        missing = stay_missing_rate(frame, key, features)
        if self.stay_mode == "summary":
            values = stay_summary(frame, key, features, self.categorical)
        else:
            values = sample_one_row_per_stay(frame, key, self.seed).set_index(key)[features]
        scores = None
        if self.scorer is not None:
            row_scores = pd.Series(np.asarray(self.scorer(scored), dtype=float), index=frame.index)
            scores = row_scores.groupby(frame[key].to_numpy()).max().sort_index().to_numpy()
        return values, missing, scores

    def _check_columns(self, frame: pd.DataFrame, what: str) -> None:
        needed = list(self.features) + ([self.id_column] if self.id_column else [])
        absent = [c for c in needed if c not in frame.columns]
        if absent:
            raise DataContractError(f"{what} lacks column(s) {', '.join(absent)}")
        if frame.empty:
            raise DataContractError(f"{what} has no rows")


def _finite(values: Array) -> Array:
    array: Array = np.asarray(values, dtype=float)
    finite: Array = array[np.isfinite(array)]
    return finite


def _certain(name: str, test: str, count: int, finding: str) -> FeatureDrift:
    """A finding that is certain: no p-value to correct (recorded as 0)."""
    return FeatureDrift(
        name=name,
        kind="quality",
        test=test,
        statistic=float(count),
        p_value=0.0,
        is_drift=True,
        finding=finding,
    )


def _lazy(func: Callable[..., str], *args: object) -> Callable[[], str]:
    return lambda: func(*args)


def _multivariate_finding(auroc: float) -> str:
    return (
        f"a classifier tells this window's stays from the reference's (held-out AUROC "
        f"{auroc:.2f}): the joint distribution of the features changed"
    )
