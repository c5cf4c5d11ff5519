"""Each pipeline step imports only what it uses: every KFP task is its own process (its own pod
in the cluster) and pays each import again, so an import in the wrong step is paid on every run.

One real kfp.local training run with ``PYTHONPROFILEIMPORTTIME=1``; each task's import profile
is read from the run's log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import samdops
from tests.import_profile import StepProfile, step_profile

pytestmark = pytest.mark.slow

STEPS = ("ingest", "validate", "train", "evaluate", "register")
# The heavy packages and the only steps allowed to import them.
ALLOWED = {
    "deepchecks": {"validate"},  # AGPL-3.0, data validation only
    "xgboost": {"train", "evaluate"},  # fit and score
    "alibi_detect": set(),  # BSL: only when the monitor's alibi backend is chosen
    # Fitting the comparator and the folds (train); validate's deepchecks brings its own.
    "sklearn": {"validate", "train"},
}


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StepProfile]:
    home = tmp_path_factory.mktemp("home")
    done = samdops(home, "run", "train", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    (log,) = Path(home).glob("runs/*/kfp-local.log")
    return step_profile(log.read_text(encoding="utf-8"))


def test_every_step_is_profiled(profile: dict[str, StepProfile]) -> None:
    for step in STEPS:
        assert step in profile
        assert profile[step].import_seconds > 0
        assert "kfp" in profile[step].packages  # the KFP executor itself


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_heavy_packages_are_imported_only_where_used(
    profile: dict[str, StepProfile], package: str
) -> None:
    # A refused import (xgboost's optional scikit-learn, blocked on purpose) is logged too, at
    # a few microseconds; a package that is really imported takes milliseconds at least.
    importing = {step for step in STEPS if profile[step].packages.get(package, 0.0) > 0.001}
    assert importing <= ALLOWED[package], f"{package} imported by {sorted(importing)}"
    if package == "deepchecks":
        assert importing == {"validate"}  # the parser sees it where it is used
    if package == "xgboost":
        assert importing == {"train", "evaluate"}
