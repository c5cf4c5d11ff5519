"""A seeded simulated hospital: ICU stays, hourly rows, late labels and named drift scenarios.

The generator (numpy, pandas) is imported on first use, so that the CLI starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from samdops.hospital.columns import FEATURES, LABS, VITALS
from samdops.hospital.scenarios import SCENARIOS, Scenario, get_scenario

if TYPE_CHECKING:
    from samdops.hospital.generator import HospitalData, simulate_hospital

__all__ = [
    "FEATURES",
    "LABS",
    "SCENARIOS",
    "VITALS",
    "HospitalData",
    "Scenario",
    "get_scenario",
    "simulate_hospital",
]


def __getattr__(name: str) -> Any:
    if name in ("HospitalData", "simulate_hospital"):
        from samdops.hospital import generator

        return getattr(generator, name)
    raise AttributeError(f"module 'samdops.hospital' has no attribute {name!r}")
