"""New Pima-like data for retraining tests: a seeded new cohort resembling the original."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import PIMA_CSV

_RANGES = {
    "Pregnancies": (0, 25),
    "Glucose": (20, 600),
    "BloodPressure": (20, 160),
    "SkinThickness": (3, 110),
    "Insulin": (5, 1200),
    "BMI": (10, 90),
    "DiabetesPedigreeFunction": (0, 3),
    "Age": (21, 120),
}
_MISSING_AS_ZERO = ("Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI")


def pima_like(
    seed: int,
    *,
    rows: int = 768,
    label_noise: float = 0.0,
    noisy_ages: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Resample Pima rows with a little measurement jitter; optionally flip labels.

    ``label_noise`` flips that share of labels (all rows, or only ages in ``noisy_ages``).
    """
    rng = np.random.default_rng(seed)
    base = pd.read_csv(PIMA_CSV)
    out = base.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)
    for column, (low, high) in _RANGES.items():
        values = out[column].astype(float)
        jitter = rng.normal(0.0, 0.03 * base[column].std(), len(out))
        jittered = np.clip(values + jitter, low, high)
        if column in _MISSING_AS_ZERO:
            jittered = np.where(values == 0, 0.0, jittered)
        integer = column not in ("BMI", "DiabetesPedigreeFunction")
        out[column] = np.round(jittered).astype(int) if integer else np.round(jittered, 3)
    out = out.drop_duplicates(subset=list(_RANGES)).reset_index(drop=True)  # a new cohort
    if label_noise:
        eligible = np.ones(len(out), dtype=bool)
        if noisy_ages is not None:
            eligible = (out.Age >= noisy_ages[0]) & (out.Age < noisy_ages[1])
        flip = eligible & (rng.uniform(size=len(out)) < label_noise)
        out.loc[flip, "Outcome"] = 1 - out.loc[flip, "Outcome"]
    return out


def write_pima_like(path: Path, seed: int, **kwargs: object) -> Path:
    pima_like(seed, **kwargs).to_csv(path, index=False)  # type: ignore[arg-type]
    return path
