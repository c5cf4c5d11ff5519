"""Named, composable drift scenarios with a known onset.

A scenario is a frozen set of knobs the generator reads. Knobs that change the case mix
(age, severity, new unit, prevalence) act on stays admitted after the onset; knobs that change
measurement (assays, sensors, lab ordering, season, treatment, label definition) act on every
hour after the onset. ``get_scenario("a+b")`` composes named scenarios.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from samdops.errors import ConfigError
from samdops.hospital.columns import ALL_LABS

# "prior": the share of septic patients changes, not what sepsis looks like (a prior-probability
# shift); it shows in the model's scores as the extra septic patients deteriorate, and in the
# label rate once their labels arrive.
Kind = Literal["none", "data", "prior", "concept"]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    kind: Kind = "none"
    onset_day: float = 3.0
    expected_features: tuple[str, ...] = ()
    age_shift: float = 0.0
    severity_shift: float = 0.0
    new_unit_share: float = 0.0
    lab_scale: tuple[tuple[str, float], ...] = ()
    lab_offset: tuple[tuple[str, float], ...] = ()
    o2sat_fault_unit1: bool = False
    lab_frequency: float = 1.0
    seasonal: float = 0.0
    tachycardia_blunting: float = 0.0
    label_lead_hours: float = 6.0
    prevalence_factor: float = 1.0

    @property
    def onset_hour(self) -> float:
        return self.onset_day * 24.0

    def combine(self, other: Scenario) -> Scenario:
        """Both scenarios at once (the onset of the first)."""
        defaults = Scenario(name="", description="")
        merged: dict[str, object] = {}
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            merged[f.name] = theirs if mine == getattr(defaults, f.name) else mine
        merged["name"] = f"{self.name}+{other.name}"
        merged["description"] = f"{self.description}; {other.description}"
        merged["kind"] = "data" if "data" in (self.kind, other.kind) else other.kind
        merged["expected_features"] = self.expected_features + other.expected_features
        merged["lab_scale"] = self.lab_scale + other.lab_scale
        merged["lab_offset"] = self.lab_offset + other.lab_offset
        merged["onset_day"] = self.onset_day
        return Scenario(**merged)  # type: ignore[arg-type]


_ALL = (
    Scenario("no_drift", "no-drift control"),
    Scenario(
        "older_sicker",
        "older and sicker admissions",
        kind="data",
        expected_features=("Age",),
        age_shift=14.0,
        severity_shift=0.8,
    ),
    Scenario(
        "new_unit",
        "a new cardiac unit opens (Unit1 = Unit2 = 0)",
        kind="data",
        expected_features=("Unit", "Unit1", "Unit2"),
        new_unit_share=0.35,
    ),
    Scenario(
        "lactate_mgdl",
        "lab assay change: Lactate reported in mg/dL instead of mmol/L (x9.01)",
        kind="data",
        expected_features=("Lactate",),
        lab_scale=(("Lactate", 9.01),),
    ),
    Scenario(
        "creatinine_offset",
        "creatinine calibration offset (+0.4 mg/dL)",
        kind="data",
        expected_features=("Creatinine",),
        lab_offset=(("Creatinine", 0.4),),
    ),
    Scenario(
        "o2sat_sensor_fault",
        "O2Sat sensor fault: missing on Unit1",
        kind="data",
        expected_features=("O2Sat",),
        o2sat_fault_unit1=True,
    ),
    Scenario(
        "fewer_labs",
        "labs ordered less often (a third of the draws)",
        kind="data",
        expected_features=ALL_LABS,
        lab_frequency=1.0 / 3.0,
    ),
    Scenario(
        "seasonal",
        "seasonal shift (respiratory season: fever, tachypnoea, leukocytosis)",
        kind="data",
        expected_features=("Temp", "Resp", "WBC"),
        seasonal=1.0,
    ),
    Scenario(
        "prevalence",
        "sepsis prevalence triples",
        kind="prior",
        expected_features=("score", "label rate"),
        prevalence_factor=3.0,
    ),
    Scenario(
        "concept_treatment",
        "concept drift: a new treatment protocol blunts tachycardia before sepsis onset",
        kind="concept",
        expected_features=("HR", "AUROC", "error stream"),
        tachycardia_blunting=1.0,
    ),
    Scenario(
        "concept_definition",
        "concept drift: a changed sepsis definition labels from 24 h before onset",
        kind="concept",
        label_lead_hours=24.0,
    ),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in _ALL}


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``; ``a+b`` composes two or more named scenarios."""
    parts = [p.strip() for p in name.split("+")]
    unknown = [p for p in parts if p not in SCENARIOS]
    if unknown or not parts:
        raise ConfigError(
            f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)} (compose with '+')"
        )
    scenario = SCENARIOS[parts[0]]
    for part in parts[1:]:
        scenario = scenario.combine(SCENARIOS[part])
    return scenario
