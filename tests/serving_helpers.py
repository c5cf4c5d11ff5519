"""Helpers for the serving tests: a home whose Pima model is released, and its release."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samdops.governance.lifecycle import State
from samdops.governance.roles import Role
from samdops.governance.service import GovernedRegistry
from samdops.governance.signatures import Meaning
from tests.cli_helpers import train_pima

PIMA = "pima-diabetes-onset"
PIMA_ROW = {  # one Pima patient, inside the contract
    "Pregnancies": 2,
    "Glucose": 150,
    "BloodPressure": 70,
    "SkinThickness": 30,
    "Insulin": 0,
    "BMI": 33.1,
    "DiabetesPedigreeFunction": 0.5,
    "Age": 45,
}
STAFF = {
    "quinn": ("Quinn Reviewer", {Role.QA_REVIEWER}, "reviewer-password-1"),
    "max": ("Max Release", {Role.RELEASE_MANAGER}, "release-password-1"),
}


def staff(governed: GovernedRegistry) -> None:
    """An administrator, a QA reviewer (quinn) and a release manager (max)."""
    users = governed.users
    users.bootstrap_admin("admin", "Ada Admin", "admin-password-1")
    admin = users.authenticate("admin", "admin-password-1")
    for user_id, (name, roles, password) in STAFF.items():
        users.add(admin, user_id, name, roles, temporary_password="temporary-pass-1")
        users.change_password(user_id, "temporary-pass-1", password)


def release(governed: GovernedRegistry, ref: str) -> None:
    """Review (quinn), approve and release (max) ``ref``."""
    governed.sign(ref, Meaning.REVIEW, "quinn", STAFF["quinn"][2])
    governed.sign(ref, Meaning.APPROVAL, "max", STAFF["max"][2])
    governed.transition(ref, State.RELEASED, "max", STAFF["max"][2])


def released_home(base: Path) -> Path:
    """A home with the Pima model trained in process (~5 s) and released as @1."""
    home = base / "home"
    train_pima(home, base / "work")
    governed = GovernedRegistry(home, sinks=[])
    staff(governed)
    release(governed, f"{PIMA}@1")
    return home


SEPSIS = "sepsis-risk"
SEPSIS_METRICS = {
    "auroc": {"point": 0.9},
    "calibration_slope": {"point": 1.0},
    "calibration_intercept": {"point": 0.0},
    "alert_rate": {"point": 0.05},
    "ppv": {"point": 0.3},
}


def register_sepsis(governed: GovernedRegistry, *, days: int = 4, seed: int = 5) -> str:
    """Fit the sepsis model on a small simulated hospital and register it as the pipeline
    does (audited, gate passed); its id."""
    from samdops.config import load_config, packaged_config_path
    from samdops.digest import canonical_json
    from samdops.features.sepsis_hourly import FEATURES
    from samdops.hospital import get_scenario, simulate_hospital
    from samdops.hospital.columns import LABEL
    from samdops.training.train import fit_model, model_inputs

    config = load_config(packaged_config_path("sepsis"))
    frame = simulate_hospital(get_scenario("no_drift"), days=days, seed=seed, beds=60).frame
    model = fit_model(model_inputs(frame, config), FEATURES, LABEL, config.model, "xgboost")
    store = governed.registry.store
    digest = store.put_bytes(model.to_bytes())
    evaluation = {"model_sha256": digest, "overall": {"size": len(frame)}}
    fields = {
        "status": "registered",
        "gate": {"passed": True, "criteria": []},
        "model": {"sha256": digest, "family": model.family},
        "metrics": SEPSIS_METRICS,
        "artifacts": {"evaluation": {"sha256": store.put_bytes(canonical_json(evaluation))}},
        "lineage": {"config": {"sha256": store.put_bytes(config.to_json().encode("utf-8"))}},
    }
    return governed.register_model(SEPSIS, fields, trained_by="eve", run="serving-test").id


def released_sepsis_home(base: Path) -> Path:
    """A home with a small sepsis model registered and released as @1."""
    home = base / "sepsis-home"
    governed = GovernedRegistry(home, sinks=[])
    staff(governed)
    release(governed, register_sepsis(governed))
    return home


class Server:
    """``python -m samdops.serving`` in the serving environment, on a free port."""

    def __init__(self, home: Path, ref: str, journal: Path, *, poll: int = 1) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.home, self.ref, self.journal, self.poll = home, ref, journal, poll
        self.name = ref.partition("@")[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: Any = None
        self.log = journal.parent / f"server-{self.port}.log"

    def command(self, *extra: str) -> list[str]:
        from samdops import settings

        return [
            str(settings.serving_python()),
            "-m",
            "samdops.serving",
            self.ref,
            "--port",
            str(self.port),
            "--state",
            str(self.home),
            "--journal",
            str(self.journal),
            *extra,
        ]

    def env(self) -> dict[str, str]:
        import os

        return {**os.environ, "SAMDOPS_SERVING_POLL_SECONDS": str(self.poll)}

    def start(self, *extra: str, timeout: float = 90) -> Server:
        import subprocess
        import time

        import requests

        self.process = subprocess.Popen(
            self.command(*extra),
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "ab"),  # noqa: SIM115 - the child keeps it
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(f"{self.url}/v2/health/ready", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the server did not get ready: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        import signal

        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)

    def infer(self, columns: dict[str, list[Any]], request_id: str, timeout: float = 30) -> Any:
        import requests

        body = {
            "id": request_id,
            "inputs": [
                {"name": name, "shape": [len(values)], "datatype": "FP64", "data": values}
                for name, values in columns.items()
            ],
        }
        return requests.post(f"{self.url}/v2/models/{self.name}/infer", json=body, timeout=timeout)
