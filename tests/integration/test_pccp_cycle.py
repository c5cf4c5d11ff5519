"""Retraining under the PCCP with crafted changes, through the same steps as the pipeline."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from samdops.config import TrainingConfig, default_config_path, load_config
from samdops.errors import LifecycleError, PccpError, ValidationFailed, VerificationError
from samdops.governance.lifecycle import State
from samdops.governance.roles import Role
from samdops.governance.service import GovernedRegistry
from samdops.governance.signatures import Meaning
from samdops.pccp.plans import plan_in_force, register_plan
from samdops.steps.inprocess import run_training_in_process
from tests.cli_helpers import signed_in, train_pima
from tests.pima_like import pima_like

PLAN_FILE = default_config_path().parent / "pima-pccp.yaml"
PW = {
    "admin": "admin-password-1",
    "eve": "engineer-password",
    "quinn": "reviewer-password",
    "max": "release-password1",
}
NAME = "pima-diabetes-onset"


def _users(gov: GovernedRegistry) -> None:
    gov.users.bootstrap_admin("admin", "Ada Admin", PW["admin"])
    admin = gov.users.authenticate("admin", PW["admin"])
    for user, role in (
        ("eve", Role.ML_ENGINEER),
        ("quinn", Role.QA_REVIEWER),
        ("max", Role.RELEASE_MANAGER),
    ):
        gov.users.add(
            admin, user, f"{user.title()} Person", {role}, temporary_password="temporary-password"
        )
        gov.users.change_password(user, "temporary-password", PW[user])


def _approve(gov: GovernedRegistry, ref: str) -> None:
    gov.sign(ref, Meaning.REVIEW, "quinn", PW["quinn"])
    gov.sign(ref, Meaning.APPROVAL, "max", PW["max"])


def release_under_plan(state: Path | str, model: str, plan_file: Path) -> None:
    """The users; ``model`` reviewed, approved and released; the PCCP of ``plan_file``
    registered, reviewed and approved, at the state location ``state``."""
    gov = GovernedRegistry(state, sinks=[])
    _users(gov)
    _approve(gov, model)
    gov.transition(model, State.RELEASED, "max", PW["max"])
    plan = register_plan(gov, plan_file, "eve", PW["eve"])
    _approve(gov, plan.record.id)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """v1 trained, approved and released; the PCCP registered, reviewed and approved."""
    home = tmp_path_factory.mktemp("pccp") / "home"
    train_pima(home, home.parent / "w1")
    release_under_plan(home, f"{NAME}@1", PLAN_FILE)
    yield home


def _retrain(
    home: Path, tmp_path: Path, frame: Any, config: TrainingConfig | None = None, plan: str = NAME
) -> Any:
    data = tmp_path / "new.csv"
    frame.to_csv(data, index=False)
    config = config or load_config(default_config_path())
    return run_training_in_process(
        config,
        data=data,
        data_sha256=None,
        state=home,
        workdir=tmp_path / "work",
        plan=plan,
        launcher=signed_in("eve"),  # the retrains are eve's too
    )


def _latest(home: Path) -> Any:
    return GovernedRegistry(home, sinks=[]).get(NAME)


def test_clean_retrain_is_a_candidate_then_released(home: Path, tmp_path: Path) -> None:
    record = _retrain(home, tmp_path, pima_like(101))
    change = record.document["pccp"]
    assert (change["outcome"], change["modification"]) == ("candidate", "retrain-new-data")
    assert [c["passed"] for c in change["checks"]] == [True] * 5
    gov = GovernedRegistry(home, sinks=[])
    assert gov.get(record.id).state == State.VALIDATED  # never released by the pipeline
    _approve(gov, record.id)
    assert gov.transition(record.id, State.RELEASED, "max", PW["max"]).state == State.RELEASED
    checks = [
        r.event
        for r in gov.audit.entries()
        if dict(r.event.details).get("kind") == "pccp-check" and str(r.event.target) == record.id
    ]
    assert [dict(e.details)["check"] for e in checks] == [
        "scope",
        "data",
        "test-independence",
        "acceptance",
        "non-inferiority",
    ]
    report = json.loads(gov.registry.store.get_bytes(change["change_record"]["sha256"]))
    assert report["released"]["id"] == f"{NAME}@1" and report["outcome"] == "candidate"


def test_feature_set_change_is_flagged_outside_the_plan(home: Path, tmp_path: Path) -> None:
    data = load_config(default_config_path()).model_dump(mode="json")
    data["contract"]["columns"] = [c for c in data["contract"]["columns"] if c["name"] != "Insulin"]
    frame = pima_like(102).drop(columns=["Insulin"])
    with pytest.raises(PccpError) as info:
        _retrain(home, tmp_path, frame, TrainingConfig.model_validate(data))
    assert (
        "is outside the PCCP and needs a new regulatory submission: scope: the feature set "
        "changed (added [], removed ['Insulin'])" in str(info.value)
    )
    model = _latest(home)
    assert model.record.document["pccp"]["outcome"] == "outside-plan"
    assert model.state == State.REGISTERED
    gov = GovernedRegistry(home, sinks=[])
    with pytest.raises(
        LifecycleError,
        match="needs a new regulatory submission and cannot be "
        "released under the plan by any signature",
    ):
        gov.sign(model.record.id, Meaning.REVIEW, "quinn", PW["quinn"])
    with pytest.raises(LifecycleError, match="by any signature"):
        gov.transition(model.record.id, State.RELEASED, "max", PW["max"])


def test_candidate_worse_than_released_beyond_margin_is_rejected(
    home: Path, tmp_path: Path
) -> None:
    with pytest.raises(
        PccpError,
        match=r"was rejected under the PCCP: .*non-inferiority: auroc difference -0\.[0-9]+",
    ):
        _retrain(home, tmp_path, pima_like(103, label_noise=0.3))
    model = _latest(home)
    assert model.record.document["pccp"]["outcome"] == "rejected"
    assert model.state == State.REGISTERED


def test_candidate_failing_one_subgroup_is_rejected(home: Path, tmp_path: Path) -> None:
    with pytest.raises(PccpError) as info:
        _retrain(home, tmp_path, pima_like(104, label_noise=0.45, noisy_ages=(40, 200)))
    assert "acceptance: auroc point >= 0.65 in each subgroup failed in age_band=40+" in str(
        info.value
    )
    checks = {c["name"]: c for c in _latest(home).record.document["pccp"]["checks"]}
    failed_groups = {c["group"] for c in checks["acceptance"]["criteria"] if c["passed"] is False}
    assert failed_groups == {"age_band=40+"}


def test_test_rows_in_training_data_are_stopped(home: Path, tmp_path: Path) -> None:
    frame = pima_like(105)
    doubled = yaml.safe_load(yaml.safe_dump(frame.to_dict("list")))  # plain copy
    import pandas as pd

    with pytest.raises(ValidationFailed, match="Train Test Samples Mix"):
        _retrain(home, tmp_path, pd.concat([frame, pd.DataFrame(doubled)], ignore_index=True))


def test_unsigned_plan_is_refused(home: Path, tmp_path: Path) -> None:
    raw = yaml.safe_load(PLAN_FILE.read_text())
    raw["id"] = "unsigned-plan"
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(raw))
    gov = GovernedRegistry(home, sinks=[])
    register_plan(gov, path, "eve", PW["eve"])
    with pytest.raises(PccpError) as info:
        plan_in_force(gov, "unsigned-plan")
    assert str(info.value) == (
        "PCCP unsigned-plan v1 is validated (signatures: none); it is in force only after "
        "review and approval signatures"
    )
    with pytest.raises(PccpError, match="unsigned-plan v1 is validated"):
        _retrain(home, tmp_path, pima_like(106), plan="unsigned-plan")


def test_edited_plan_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    gov = GovernedRegistry(home, sinks=[])
    _users(gov)
    record = register_plan(gov, PLAN_FILE, "eve", PW["eve"])
    _approve(gov, record.record.id)
    path = home / "registry" / "models" / "pccp-pima-diabetes-onset" / "000001.json"
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    document = json.loads(path.read_bytes())
    document["plan"]["performance"]["non_inferiority"]["margin"] = 0.4
    path.write_text(json.dumps(document, sort_keys=True, separators=(",", ":")))
    with pytest.raises(VerificationError, match="record pccp-pima-diabetes-onset@1 hashes to"):
        plan_in_force(GovernedRegistry(home, sinks=[]), "pima-diabetes-onset")


def test_audit_log_verifies_after_the_cycle(home: Path) -> None:
    gov = GovernedRegistry(home, sinks=[])
    assert gov.audit.verify(gov.audit_key.public_key_pem()).size == len(gov.audit)
