"""The sepsis model's reference training data: a seeded simulated ICU, regenerated bit for bit.

``scripts/sepsis_reference_data.py`` (``make sepsis-data``) writes :data:`DATA_FILE` into the
repository's ``data/`` folder and pins its digest in ``configs/sepsis.yaml``; a unit test checks
that regenerating it gives the pinned digest.
"""

from __future__ import annotations

import pandas as pd

from samdops.features.sepsis_hourly import DEMOGRAPHIC_FEATURES, MEASURED
from samdops.hospital.columns import LABEL, STAY_ID, TIME
from samdops.tables import parquet_bytes

SCENARIO = "no_drift"
BEDS = 100
DAYS = 10
SEED = 2019
DATA_FILE = "sepsis-reference.parquet"
# The training extract: what the sepsis_hourly transform reads, and the label. The simulator's
# other columns (the challenge's monitored-only vitals and labs, when a label was confirmed) are
# for the monitor; they come from random streams of their own, so leaving them out does not
# change these bytes.
COLUMNS = (STAY_ID, TIME, *MEASURED, *DEMOGRAPHIC_FEATURES, LABEL)


def reference_frame() -> pd.DataFrame:
    """The hourly rows of the reference ICU (PhysioNet/CinC 2019 column names)."""
    from samdops.hospital import get_scenario, simulate_hospital

    data = simulate_hospital(get_scenario(SCENARIO), days=DAYS, seed=SEED, beds=BEDS)
    return data.frame.loc[:, list(COLUMNS)].reset_index(drop=True)


def reference_bytes() -> bytes:
    """The reference data as deterministic Parquet bytes."""
    return parquet_bytes(reference_frame())
