"""Column names and physiology, following the PhysioNet/CinC 2019 sepsis challenge conventions.

``VITALS`` and ``LABS`` are the sepsis model's inputs; ``EXTRA_VITALS`` and ``EXTRA_LABS`` are
the challenge's remaining columns, simulated so that the monitor watches the whole record (about
40 columns) as it would in a hospital, but never fed to the model.
"""

from __future__ import annotations

from typing import Final

STAY_ID: Final = "patient_id"
TIME: Final = "Time"  # absolute hour since the start of the simulation
ICULOS: Final = "ICULOS"  # hours since ICU admission (PhysioNet name)
HOSP_ADM_TIME: Final = "HospAdmTime"  # hours from hospital to ICU admission (<= 0)
LABEL: Final = "SepsisLabel"  # 1 from 6 h before clinical onset (PhysioNet convention)
LABEL_ARRIVAL: Final = "LabelArrival"  # absolute hour at which the label is confirmed

# name -> (population mean, between-patient sd, within-stay hourly sd, low clip, high clip)
VITAL_SPECS: Final[dict[str, tuple[float, float, float, float, float]]] = {
    "HR": (84.0, 12.0, 6.0, 30.0, 220.0),
    "O2Sat": (97.0, 1.5, 1.5, 60.0, 100.0),
    "Temp": (36.9, 0.4, 0.3, 33.0, 42.0),
    "SBP": (122.0, 16.0, 9.0, 50.0, 250.0),
    "MAP": (82.0, 11.0, 7.0, 30.0, 180.0),
    "DBP": (63.0, 9.0, 6.0, 20.0, 150.0),
    "Resp": (18.5, 3.5, 2.5, 4.0, 60.0),
}
# Labs are log-normal-ish: (median, between-patient log-sd, within log-sd, low, high).
LAB_SPECS: Final[dict[str, tuple[float, float, float, float, float]]] = {
    "Lactate": (1.4, 0.35, 0.15, 0.2, 30.0),  # mmol/L
    "WBC": (10.5, 0.35, 0.12, 0.1, 100.0),  # 10^3/uL
    "Creatinine": (1.1, 0.45, 0.1, 0.1, 15.0),  # mg/dL
    "Platelets": (200.0, 0.4, 0.1, 5.0, 1000.0),  # 10^3/uL
    "Bilirubin_total": (0.8, 0.6, 0.15, 0.1, 40.0),  # mg/dL
    "BUN": (20.0, 0.5, 0.1, 1.0, 200.0),  # mg/dL
    "Glucose": (130.0, 0.25, 0.2, 20.0, 800.0),  # mg/dL
    "pH": (7.39, 0.0035, 0.0025, 6.8, 7.7),  # handled on the log scale like the others
    "HCO3": (24.0, 0.12, 0.06, 5.0, 50.0),  # mmol/L
}
VITAL_MISSING: Final = 0.12  # share of hours with no charted vital
LAB_EVERY_HOURS: Final = 12.0  # mean hours between draws of one lab

# Monitored only. EtCO2 is charted for ventilated patients: (mean, between sd, within sd, low,
# high, share of stays on capnography).
EXTRA_VITAL_SPECS: Final[dict[str, tuple[float, float, float, float, float, float]]] = {
    "EtCO2": (33.0, 5.0, 2.5, 10.0, 100.0, 0.1),  # mmHg
}
# Monitored only: (centre, between sd, within sd, low, high, mean hours between draws, log).
# ``log`` True: centre is the median and the sds are on the log scale (as LAB_SPECS); False:
# additive normal. Draw intervals give PhysioNet-like missingness (most columns > 90% missing).
EXTRA_LAB_SPECS: Final[dict[str, tuple[float, float, float, float, float, float, bool]]] = {
    "BaseExcess": (0.0, 3.5, 1.5, -30.0, 30.0, 24.0, False),  # mmol/L
    "FiO2": (0.45, 0.12, 0.05, 0.21, 1.0, 12.0, False),  # fraction of inspired O2
    "PaCO2": (40.0, 0.15, 0.07, 10.0, 120.0, 20.0, True),  # mmHg
    "SaO2": (95.0, 2.5, 1.5, 50.0, 100.0, 30.0, False),  # %
    "AST": (40.0, 0.9, 0.15, 3.0, 10000.0, 48.0, True),  # IU/L
    "Alkalinephos": (85.0, 0.45, 0.08, 10.0, 3000.0, 48.0, True),  # IU/L
    "Calcium": (8.3, 0.08, 0.04, 4.0, 14.0, 16.0, True),  # mg/dL
    "Chloride": (105.0, 0.04, 0.02, 70.0, 140.0, 20.0, True),  # mmol/L
    "Bilirubin_direct": (0.4, 0.9, 0.15, 0.05, 30.0, 200.0, True),  # mg/dL
    "Magnesium": (2.0, 0.12, 0.06, 0.5, 5.0, 16.0, True),  # mg/dL
    "Phosphate": (3.4, 0.3, 0.1, 0.5, 15.0, 24.0, True),  # mg/dL
    "Potassium": (4.1, 0.12, 0.08, 1.5, 9.0, 11.0, True),  # mmol/L
    "Hct": (31.0, 0.15, 0.05, 10.0, 60.0, 11.0, True),  # %
    "Hgb": (10.4, 0.16, 0.05, 3.0, 20.0, 14.0, True),  # g/dL
    "PTT": (32.0, 0.35, 0.1, 15.0, 150.0, 30.0, True),  # s
    "Fibrinogen": (280.0, 0.35, 0.1, 30.0, 1200.0, 100.0, True),  # mg/dL
    "TroponinI": (0.1, 1.5, 0.3, 0.01, 50.0, 100.0, True),  # ng/mL
}

VITALS: Final = tuple(VITAL_SPECS)
LABS: Final = tuple(LAB_SPECS)
EXTRA_VITALS: Final = tuple(EXTRA_VITAL_SPECS)
EXTRA_LABS: Final = tuple(EXTRA_LAB_SPECS)
ALL_LABS: Final = (*LABS, *EXTRA_LABS)
DEMOGRAPHICS: Final = ("Age", "Gender", "Unit1", "Unit2", HOSP_ADM_TIME, ICULOS)
FEATURES: Final = (*VITALS, *EXTRA_VITALS, *LABS, *EXTRA_LABS, *DEMOGRAPHICS)
CATEGORICAL: Final = ("Gender", "Unit1", "Unit2")
# One-hot columns of one categorical variable: tested together, so that a category absent from
# the reference (Unit1 = Unit2 = 0: a unit that did not exist) shows as a category of its own.
CATEGORY_GROUPS: Final[dict[str, tuple[str, ...]]] = {"Unit": ("Unit1", "Unit2")}
# Both of the above as the monitor's --categorical option and pipeline parameter spell them.
CATEGORICAL_SPEC: Final = "Gender,Unit=Unit1+Unit2"
