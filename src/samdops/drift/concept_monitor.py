"""Concept drift from late labels, one day of label arrivals at a time, in bounded memory.

Each ``update`` takes the labelled hours that arrived in one window and runs:

1. the window's AUROC against the validated baseline: a one-sided z-test with a variance that
   treats the hours of one stay as a cluster (Obuchowski 1997), and a one-sided CUSUM on these
   daily z-values (Page), so that a small drop adds up over days;
2. ADWIN on the stream of per-hour Brier errors;
3. the label rate as a prior-probability shift (sepsis more or less common), counted per stay:
   each window, the stays whose labels arrived for the first time and the stays whose first
   septic label arrived, against the reference's share of septic stays. Two one-sided Poisson
   CUSUMs (Lucas 1985) on these counts, for a septic share ``rate_ratio`` times higher or lower,
   add the evidence up from the window the shift began, however many windows ago. A stay is
   counted once, whichever windows its hours arrive in, so the counts of windows are
   independent and need no clustered variance. The reference's share is itself an estimate
   from its septic stays (about 90 in a month of a 150-bed ICU), so the rise is measured from
   its upper Wilson bound ``rate_margin`` standard errors above it, and the fall from the lower
   one: a reference that happened to see few septic stays does not raise a stream of false
   alarms. The test's p-value is nominal: Fisher's exact test, one-sided, of the stays since
   the alarming CUSUM last stood at zero against the reference's stays;
4. class-conditional drift: per feature, each stay's rise into sepsis, the mean over its
   septic (label 1) hours minus the mean over its other hours, from the labels that arrived in
   the last ``pool_days``, against the reference's septic stays (Mann-Whitney U). Septic
   patients whose signs move differently from those of the septic patients the model learnt
   from, while the data-drift tests see no change in the population, mean that
   P(label | features) changed: a new treatment that blunts a sign, a new sepsis definition.
   The rise is taken within a stay, so it sheds the spread between patients (in the simulated
   ICU, the septic stays' mean HR varies by some 13 beats/min, their rise by 6 around 23): a
   few stays with a blunted sign stand out where their mean level would not. A feature's rise
   counts only from ``rise_min_hours`` measured values both before and in sepsis, in the
   reference and in the pool: the last hours before the label turns are already
   deteriorating, and a stay known from those alone (it began before the monitor did, or its
   earlier labels are still to arrive) rises less, which alarmed on the first windows of a
   stream. Labs drawn twice a day seldom have six values before sepsis, so at the default this
   watches the charted vitals, and the labs spend little of alpha (a lab's test runs only once
   ``_MIN_STAYS`` stays qualify). Features that do not move within any reference stay (age,
   sex, unit) have no rise and no test.

The p-values of 1 and 4 are corrected together for the number of tests; the CUSUMs and ADWIN
alarm on their own thresholds. (The label rate used to be a pooled test in that family too:
Bonferroni over some 40 tests left it too little alpha to see sepsis triple within a week.)
A CUSUM whose increments are log-likelihood ratios, under no drift, first crosses ``h`` after
``exp(h)`` windows or more on average (Lorden 1971): ``rate_h=5`` is at least about 150 windows
per side. Memory: the per-stay sums of ``pool_days`` windows and the stays whose labels
arrived in them, whatever the length of the stream.
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
from samdops.errors import ConfigError, DataContractError
from samdops.jsonsafe import json_safe

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
            "statistic": json_safe(float(self.statistic)),
            "p_value": json_safe(float(self.p_value)),
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
        """The test that alarmed most strongly: a test in ``tests`` first (the label rate's by
        the nominal p-value of its CUSUM's run), then the AUROC's CUSUM, then ADWIN."""
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
            "auroc": json_safe(float(self.auroc)),
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


class _SepticShareCusum:
    """Two one-sided Poisson CUSUMs on the stays that turn septic among the stays whose labels
    arrive, against the reference's share of septic stays (the "label rate" test)."""

    def __init__(self, ratio: float, h: float, margin: float, forget: int, label: str) -> None:
        self.ratio, self.h, self.margin, self.forget = ratio, h, margin, forget
        self.label = label  # the label column, named in the finding
        self.reference = (0, 0)  # septic stays, stays
        self.bounds = (0.0, 0.0)  # the reference's share: lower, upper Wilson bound
        self.up = self.down = 0.0
        # Since each CUSUM was last zero: stays turned septic, stays first seen, windows.
        self.run_up = self.run_down = (0, 0, 0)
        self.window = 0
        self.last_seen: dict[Any, int] = {}  # stay -> the last window its labels arrived in
        self.septic: set[Any] = set()

    def fit(self, septic_per_stay: Array) -> None:
        k, n = int(septic_per_stay.sum()), len(septic_per_stay)
        self.reference = (k, n)
        self.bounds = _wilson(k, n, self.margin)

    def update(self, septic_per_stay: pd.Series) -> ConceptTest:
        self.window += 1
        new = turned = 0
        for stay, septic in septic_per_stay.items():
            new += stay not in self.last_seen
            self.last_seen[stay] = self.window
            if septic and stay not in self.septic:
                self.septic.add(stay)
                turned += 1
        # A stay's labels arrive on consecutive days while it is in the ICU and up to three days
        # after: one unseen for ``forget`` windows is gone, and would not be counted again.
        gone = [s for s, w in self.last_seen.items() if w <= self.window - self.forget]
        for stay in gone:
            del self.last_seen[stay]
            self.septic.discard(stay)
        log_ratio = float(np.log(self.ratio))
        lower, upper = self.bounds
        self.up = max(0.0, self.up + turned * log_ratio - (self.ratio - 1.0) * upper * new)
        self.down = max(
            0.0, self.down - turned * log_ratio + (1.0 - 1.0 / self.ratio) * lower * new
        )
        self.run_up = _extend(self.run_up, turned, new) if self.up > 0 else (0, 0, 0)
        self.run_down = _extend(self.run_down, turned, new) if self.down > 0 else (0, 0, 0)
        rising = self.up >= self.down
        statistic = self.up if rising else -self.down
        turned_run, new_run, windows = self.run_up if rising else self.run_down
        k, n = self.reference
        p_value = 1.0
        if new_run > 0 and n > 0:
            table = [[turned_run, max(new_run - turned_run, 0)], [k, n - k]]
            p_value = float(stats.fisher_exact(table, "greater" if rising else "less")[1])
        is_drift = max(self.up, self.down) > self.h
        finding = None
        if is_drift:
            share = 100 * turned_run / max(new_run, 1)
            finding = (
                f"label rate: {turned_run} stays turned {self.label}=1 against {new_run} new "
                f"stays with labels over the last {windows} window(s) ({share:.1f}%; the "
                f"reference's {100 * k / max(n, 1):.1f}% of stays): {self.label}=1 became "
                f"{'more' if rising else 'less'} common"
            )
        return ConceptTest(
            "label rate",
            "Poisson CUSUM (stays turned positive)",
            statistic,
            p_value,
            is_drift,
            finding,
        )


def _extend(run: tuple[int, int, int], turned: int, new: int) -> tuple[int, int, int]:
    return run[0] + turned, run[1] + new, run[2] + 1


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """The Wilson score interval of the share ``k / n``, ``z`` standard errors either side."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


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
        rate_ratio: float = 2.0,
        rate_h: float = 5.0,
        rate_margin: float = 1.0,
        rise_min_hours: int = 6,
    ) -> None:
        reject(np.array([]), alpha, correction)
        if pool_days < 1:
            raise ConfigError(f"pool_days must be at least 1; got {pool_days}")
        if not rate_ratio > 1.0:
            raise ConfigError(f"rate_ratio must be greater than 1; got {rate_ratio}")
        if not rate_h > 0.0:
            raise ConfigError(f"rate_h must be greater than 0; got {rate_h}")
        if not rate_margin >= 0.0:
            raise ConfigError(f"rate_margin must be at least 0; got {rate_margin}")
        if rise_min_hours < 1:
            raise ConfigError(f"rise_min_hours must be at least 1; got {rise_min_hours}")
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
        self.rise_min_hours = rise_min_hours
        self._septic: deque[pd.DataFrame] = deque(maxlen=pool_days)  # per-stay sums, per window
        self._rate = _SepticShareCusum(
            rate_ratio, rate_h, rate_margin, forget=pool_days, label=label_column
        )
        self._cusum = 0.0
        self._adwin: Any = None
        self._ref_rise: pd.DataFrame | None = None

    def fit(self, reference: pd.DataFrame) -> Self:
        """``reference``: labelled hourly rows the model was built on (features and label)."""
        self._check(reference, "reference", need_score=False)
        rises = _septic_rises(self._sums(reference), self.features, self.rise_min_hours)
        # A feature a stay keeps throughout (age, sex, unit) rises by nothing: no test.
        moving = [n for n in self.features if not np.allclose(_values(rises[n]), 0.0)]
        self._ref_rise = rises[moving]
        self._rate.fit(self._septic_stays(reference).to_numpy())
        if self.adwin_delta is not None:
            from river.drift import ADWIN

            self._adwin = ADWIN(delta=self.adwin_delta)  # type: ignore[no-untyped-call]
        return self

    def update(self, arrived: pd.DataFrame) -> ConceptResult:
        if self._ref_rise is None:
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
        rate = self._rate.update(self._septic_stays(arrived))
        first = len(raw)  # the label rate goes after the AUROC, before the features
        self._septic.append(self._sums(arrived))
        rises = _septic_rises(pd.concat(list(self._septic)), self.features, self.rise_min_hours)
        for name in self._ref_rise.columns:
            ref, cur = _values(self._ref_rise[name]), _values(rises[name])
            if len(ref) >= _MIN_STAYS and len(cur) >= _MIN_STAYS:
                result = stats.mannwhitneyu(ref, cur, alternative="two-sided")
                finding = (
                    f"{name} in {self.label_column}=1 hours: median rise "
                    f"{float(np.median(cur)):+.3g} per stay over its earlier hours (reference's "
                    f"{float(np.median(ref)):+.3g}); the relation of the features to "
                    f"{self.label_column} changed"
                )
                test = f"MannWhitneyU (rise into {self.label_column}=1, per stay)"
                raw.append((name, test, float(result.statistic), float(result.pvalue), finding))
        flags = reject(np.array([r[3] for r in raw]), self.alpha, self.correction)
        tests = tuple(
            ConceptTest(name, test, stat, p, bool(flag), finding if flag else None)
            for (name, test, stat, p, finding), flag in zip(raw, flags, strict=True)
        )
        cusum_alarm = self._cusum > self.cusum_h
        return ConceptResult(
            is_drift=bool(flags.any() or rate.is_drift or cusum_alarm or adwin_change),
            n_labels=len(y),
            auroc=area,
            cusum=self._cusum,
            cusum_alarm=cusum_alarm,
            adwin_change=adwin_change,
            tests=(*tests[:first], rate, *tests[first:]),
        )

    def _sums(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per (stay, label): the sum and the count of each feature's measured values."""
        values = frame[list(self.features)]
        keys = [frame[self.id_column].to_numpy(), frame[self.label_column].to_numpy()]
        sums = values.fillna(0.0).groupby(keys).sum()
        counts = values.notna().groupby(keys).sum().add_suffix("\0n")
        return pd.concat([sums, counts], axis=1)

    def _septic_stays(self, frame: pd.DataFrame) -> pd.Series:
        """Per stay: whether any of its hours in ``frame`` is septic (label 1)."""
        labels = pd.Series(frame[self.label_column].to_numpy(dtype=int) == 1)
        return labels.groupby(frame[self.id_column].to_numpy(), sort=False).any()

    def _check(self, frame: pd.DataFrame, what: str, *, need_score: bool) -> None:
        needed = [self.id_column, self.label_column, *self.features]
        if need_score:
            needed.append(self.score_column)
        absent = [c for c in needed if c not in frame.columns]
        if absent:
            raise DataContractError(f"{what} lacks column(s) {', '.join(absent)}")


def _septic_rises(sums: pd.DataFrame, features: Sequence[str], min_hours: int) -> pd.DataFrame:
    """Per stay with septic hours and other hours: each feature's mean over the septic hours
    minus its mean over the others; NaN for a feature not measured ``min_hours`` times in both.
    """
    pooled = sums.groupby(level=[0, 1]).sum()
    names = list(features)
    counts = pooled[[f"{n}\0n" for n in names]].to_numpy(dtype=float)
    means = pooled[names] / np.where(counts >= min_hours, counts, np.nan)
    septic = means.index.get_level_values(1).to_numpy() == 1
    before, during = means[~septic].droplevel(1), means[septic].droplevel(1)
    stays = during.index.intersection(before.index)
    rises: pd.DataFrame = during.loc[stays] - before.loc[stays]
    return rises


def _values(column: pd.Series) -> Array:
    array: Array = column.to_numpy(dtype=float)
    finite: Array = array[np.isfinite(array)]
    return finite
