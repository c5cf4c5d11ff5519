"""Concept drift from late labels, one day of label arrivals at a time, in bounded memory.

Each ``update`` takes the labelled hours that arrived in one window and runs:

1. the window's AUROC against the validated baseline: a one-sided z-test with a variance that
   treats the hours of one stay as a cluster (Obuchowski 1997), and a one-sided CUSUM on these
   daily z-values (Page), so that a small drop adds up over days;
2. ADWIN on the stream of per-hour Brier errors;
3. the label rate over the last ``pool_days`` of arrivals against the reference's, with a
   stay-clustered variance (a prior-probability shift: sepsis more or less common);
4. class-conditional drift: per feature, the per-stay mean over septic (label 1) hours that
   arrived in the last ``pool_days``, against the reference's septic stays (Mann-Whitney U).
   Septic patients who look different from the septic patients the model learnt from, while
   the data-drift tests see no change in the population, mean that P(label | features)
   changed: a new treatment that blunts a sign, a new sepsis definition. (A within-stay rise
   would shed the spread between patients, but a pool of recent labels holds only a stay's
   latest hours, which biases it against a reference of whole stays.)

The p-values of 1, 3 and 4 are corrected together for the number of tests; the CUSUM and ADWIN
alarm on their own thresholds. Memory: the pooled septic hours and per-stay label counts of
``pool_days`` windows, whatever the length of the stream.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd
from scipy import stats

from samdops._types import Array
from samdops.drift.concept import Baseline
from samdops.drift.correction import reject
from samdops.drift.result import _finite
from samdops.errors import ConfigError, DataContractError

_MIN_STAYS = 5


@dataclass(frozen=True)
class ConceptTest:
    name: str  # "AUROC", "label rate", or the feature whose septic hours changed
    test: str
    statistic: float
    p_value: float
    is_drift: bool
    finding: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "test": self.test,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "is_drift": self.is_drift,
            "finding": self.finding,
        }


@dataclass(frozen=True)
class ConceptResult:
    """One window of arrived labels: the tests, and whether any of them alarmed."""

    is_drift: bool
    n_labels: int
    auroc: float
    cusum: float
    cusum_alarm: bool
    adwin_change: bool
    tests: tuple[ConceptTest, ...]

    @property
    def blamed(self) -> str | None:
        """The test that alarmed most strongly: a p-value test first, then CUSUM, then ADWIN."""
        drifted = sorted((t for t in self.tests if t.is_drift), key=lambda t: t.p_value)
        if drifted:
            return drifted[0].name
        if self.cusum_alarm:
            return "AUROC"
        return "error stream" if self.adwin_change else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "is_drift": self.is_drift,
            "estimated": False,
            "n_labels": self.n_labels,
            "auroc": _finite(self.auroc),
            "cusum": self.cusum,
            "cusum_alarm": self.cusum_alarm,
            "adwin_change": self.adwin_change,
            "blamed": self.blamed,
            "tests": [t.as_dict() for t in self.tests],
        }


def clustered_auroc(y: Array, score: Array, cluster: Array) -> tuple[float, float]:
    """AUROC and its standard error with hours of one stay as a cluster (Obuchowski 1997)."""
    positive = y == 1
    m, n = int(positive.sum()), int((~positive).sum())
    if m == 0 or n == 0:
        return float("nan"), float("nan")
    neg_sorted, pos_sorted = np.sort(score[~positive]), np.sort(score[positive])
    sp, sn = score[positive], score[~positive]
    v10 = (np.searchsorted(neg_sorted, sp, "left") + np.searchsorted(neg_sorted, sp, "right")) / (
        2.0 * n
    )
    v01 = 1.0 - (
        np.searchsorted(pos_sorted, sn, "left") + np.searchsorted(pos_sorted, sn, "right")
    ) / (2.0 * m)
    area = float(v10.mean())
    codes, ids = np.unique(cluster, return_inverse=True)
    k = len(codes)
    if k < 2:
        return area, float("nan")
    s10 = np.bincount(ids[positive], weights=v10, minlength=k)
    s01 = np.bincount(ids[~positive], weights=v01, minlength=k)
    m_i = np.bincount(ids[positive], minlength=k)
    n_i = np.bincount(ids[~positive], minlength=k)
    r10, r01 = s10 - m_i * area, s01 - n_i * area
    factor = k / (k - 1)
    var = factor * (np.sum(r10**2) / m**2 + np.sum(r01**2) / n**2 + 2 * np.sum(r10 * r01) / (m * n))
    return area, float(np.sqrt(max(var, 0.0)))


def clustered_rate_test(
    reference: tuple[Array, Array], current: tuple[Array, Array]
) -> tuple[float, float]:
    """Two-sided z-test of two ratios sum(positives)/sum(hours) over stays (ratio estimators)."""

    def ratio(pos: Array, hours: Array) -> tuple[float, float]:
        rate = float(pos.sum() / hours.sum())
        k = len(hours)
        residual = pos - rate * hours
        var = k / max(k - 1, 1) * float(np.sum(residual**2)) / float(hours.sum()) ** 2
        return rate, var

    r_ref, v_ref = ratio(*reference)
    r_cur, v_cur = ratio(*current)
    if v_ref + v_cur <= 0:
        return 0.0, 1.0
    z = (r_cur - r_ref) / np.sqrt(v_ref + v_cur)
    return float(z), float(2 * stats.norm.sf(abs(z)))


class ConceptMonitor:
    """Configure, ``fit(labelled reference)``, then ``update(arrived labels)`` once a window."""

    def __init__(
        self,
        baseline: Baseline,
        features: Sequence[str],
        *,
        id_column: str,
        label_column: str,
        score_column: str = "score",
        alpha: float = 0.01,
        correction: str = "bonferroni",
        pool_days: int = 7,
        cusum_k: float = 0.5,
        cusum_h: float = 5.0,
        adwin_delta: float | None = 0.0005,
    ) -> None:
        reject(np.array([]), alpha, correction)
        if pool_days < 1:
            raise ConfigError(f"pool_days must be at least 1; got {pool_days}")
        self.baseline = baseline
        self.features = tuple(features)
        self.id_column = id_column
        self.label_column = label_column
        self.score_column = score_column
        self.alpha = alpha
        self.correction = correction
        self.cusum_k = cusum_k
        self.cusum_h = cusum_h
        self.adwin_delta = adwin_delta
        self._septic: deque[pd.DataFrame] = deque(maxlen=pool_days)
        self._counts: deque[pd.DataFrame] = deque(maxlen=pool_days)
        self._cusum = 0.0
        self._adwin: Any = None
        self._ref_septic: pd.DataFrame | None = None
        self._ref_counts: tuple[Array, Array] | None = None

    def fit(self, reference: pd.DataFrame) -> Self:
        """``reference``: labelled hourly rows the model was built on (features and label)."""
        self._check(reference, "reference", need_score=False)
        self._ref_septic = _septic_means(self._sums(reference), self.features)
        counts = self._label_counts(reference)
        self._ref_counts = (counts["positive"].to_numpy(), counts["hours"].to_numpy())
        if self.adwin_delta is not None:
            from river.drift import ADWIN

            self._adwin = ADWIN(delta=self.adwin_delta)  # type: ignore[no-untyped-call]
        return self

    def update(self, arrived: pd.DataFrame) -> ConceptResult:
        if self._ref_septic is None or self._ref_counts is None:
            raise ConfigError("the concept monitor must be fitted on a reference before update()")
        self._check(arrived, "arrived labels", need_score=True)
        y = arrived[self.label_column].to_numpy(dtype=int)
        score = arrived[self.score_column].to_numpy(dtype=float)
        stays = arrived[self.id_column].to_numpy()
        raw: list[tuple[str, str, float, float, str]] = []
        area, se = clustered_auroc(y, score, stays)
        z = (area - self.baseline.auroc) / se if se > 0 else float("nan")
        if np.isfinite(z):
            self._cusum = max(0.0, self._cusum - z - self.cusum_k)
            finding = (
                f"AUROC {area:.3f} on the labels that arrived (baseline {self.baseline.auroc:.3f})"
            )
            raw.append(("AUROC", "clustered z (one-sided)", z, float(stats.norm.cdf(z)), finding))
        adwin_change = False
        if self._adwin is not None:
            # One error per stay (its mean Brier error over the arrived hours): the hours of a
            # stay are strongly autocorrelated, and ADWIN's bound assumes independent values.
            errors = pd.Series((score - y) ** 2).groupby(stays, sort=False).mean()
            for error in errors.to_numpy():
                self._adwin.update(float(error))
                adwin_change |= bool(self._adwin.drift_detected)
        self._counts.append(self._label_counts(arrived))
        self._septic.append(self._sums(arrived))
        counts = pd.concat(list(self._counts)).groupby(level=0).sum()
        if len(counts) >= _MIN_STAYS:
            current = (counts["positive"].to_numpy(), counts["hours"].to_numpy())
            stat, p = clustered_rate_test(self._ref_counts, current)
            ref_rate = self._ref_counts[0].sum() / self._ref_counts[1].sum()
            cur_rate = current[0].sum() / current[1].sum()
            finding = f"label rate {100 * cur_rate:.2f}% of hours (reference {100 * ref_rate:.2f}%)"
            raw.append(("label rate", "clustered z", stat, p, finding))
        septic = _septic_means(pd.concat(list(self._septic)), self.features)
        for name in self.features:
            ref, cur = _values(self._ref_septic[name]), _values(septic[name])
            if len(ref) >= _MIN_STAYS and len(cur) >= _MIN_STAYS:
                result = stats.mannwhitneyu(ref, cur, alternative="two-sided")
                finding = (
                    f"{name} in septic hours: median {float(np.median(cur)):.3g} per stay "
                    f"(reference's septic stays {float(np.median(ref)):.3g}); "
                    "the relation of the features to sepsis changed"
                )
                test = "MannWhitneyU (septic stays)"
                raw.append((name, test, float(result.statistic), float(result.pvalue), finding))
        flags = reject(np.array([r[3] for r in raw]), self.alpha, self.correction)
        tests = tuple(
            ConceptTest(name, test, stat, p, bool(flag), finding if flag else None)
            for (name, test, stat, p, finding), flag in zip(raw, flags, strict=True)
        )
        cusum_alarm = self._cusum > self.cusum_h
        return ConceptResult(
            is_drift=bool(flags.any() or cusum_alarm or adwin_change),
            n_labels=len(y),
            auroc=area,
            cusum=self._cusum,
            cusum_alarm=cusum_alarm,
            adwin_change=adwin_change,
            tests=tests,
        )

    def _sums(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per (stay, label): the sum and the count of each feature's measured values."""
        values = frame[list(self.features)]
        keys = [frame[self.id_column].to_numpy(), frame[self.label_column].to_numpy()]
        sums = values.fillna(0.0).groupby(keys).sum()
        counts = values.notna().groupby(keys).sum().add_suffix("\0n")
        return pd.concat([sums, counts], axis=1)

    def _label_counts(self, frame: pd.DataFrame) -> pd.DataFrame:
        y = frame[self.label_column].to_numpy(dtype=float)
        per = pd.DataFrame(
            {"positive": y, "hours": np.ones(len(y))},
            index=frame[self.id_column].to_numpy(),
        )
        return per.groupby(level=0).sum()

    def _check(self, frame: pd.DataFrame, what: str, *, need_score: bool) -> None:
        needed = [self.id_column, self.label_column, *self.features]
        if need_score:
            needed.append(self.score_column)
        absent = [c for c in needed if c not in frame.columns]
        if absent:
            raise DataContractError(f"{what} lacks column(s) {', '.join(absent)}")


def _septic_means(sums: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """Per stay with septic hours: the mean of each feature over them (NaN if never measured)."""
    pooled = sums.groupby(level=[0, 1]).sum()
    pooled = pooled[pooled.index.get_level_values(1).to_numpy() == 1].droplevel(1)
    names = list(features)
    means: pd.DataFrame = pooled[names] / pooled[[f"{n}\0n" for n in names]].to_numpy()
    return means


def _values(column: pd.Series) -> Array:
    array: Array = column.to_numpy(dtype=float)
    finite: Array = array[np.isfinite(array)]
    return finite
