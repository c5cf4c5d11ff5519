"""Column names and physiology, following the PhysioNet/CinC 2019 sepsis challenge conventions."""

from __future__ import annotations

from typing import Final

STAY_ID: Final = "patient_id"
TIME: Final = "Time"  # absolute hour since the start of the simulation
ICULOS: Final = "ICULOS"  # hours since ICU admission (PhysioNet name)
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

VITALS: Final = tuple(VITAL_SPECS)
LABS: Final = tuple(LAB_SPECS)
DEMOGRAPHICS: Final = ("Age", "Gender", "Unit1", "Unit2", ICULOS)
FEATURES: Final = (*VITALS, *LABS, *DEMOGRAPHICS)
CATEGORICAL: Final = ("Gender", "Unit1", "Unit2")
