"""Issue #18: every step runs between its start and end audit events, its reads of patient data
are access events, and nothing reports success before its events are durable (AT-11)."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from samdops.audit.activity import Purpose
from samdops.audit.event import Action, EventKind, Outcome
from samdops.audit.log import AuditLog
from samdops.digest import sha256_bytes, sha256_file
from samdops.errors import DataContractError, DigestMismatch, SamdopsError, StoreError
from samdops.governance.records import TEST_SET_KIND, Registry
from samdops.governance.service import PIPELINE_ACTOR, GovernedRegistry
from samdops.settings import ERROR_FILE_ENV, GIT_COMMIT_ENV
from samdops.steps import audited
from samdops.steps.audited import StepRun, audited_call, read_data
from samdops.steps.inprocess import _Artifact
from samdops.steps.training import run_step

REPO = Path(__file__).resolve().parents[2]
TEST_DIGEST = "sha256:" + "ab" * 32


def _input(path: Path, content: bytes, **metadata: Any) -> _Artifact:
    path.write_bytes(content)
    return _Artifact(str(path), {"sha256": sha256_file(path), **metadata})


def _events(state: Path) -> list[Any]:
    return [r.event for r in GovernedRegistry(str(state)).audit.entries()]


def _covered(state: Path) -> bool:
    log = GovernedRegistry(str(state)).audit
    return max(log.store.checkpoint_sizes(), default=0) == len(log)


def fit_step(train: _Artifact, model: _Artifact) -> str:
    """A step as the training steps are: reads patient data, writes and records an output."""
    from samdops.steps.artifacts import record

    read_data(train, "training set", dataset="pima/train", purpose=Purpose.TRAIN)
    Path(model.path).write_bytes(b"model bytes")
    record(model)
    return "done"


def test_a_step_is_audited_start_reads_end_with_digests(tmp_path: Path) -> None:
    state = tmp_path / "state"
    train = _input(tmp_path / "train", b"rows", rows=614.0)  # kfp gives integers as floats
    model = _Artifact(str(tmp_path / "model"))
    where = StepRun(str(state), "train-1", "registry.example/c@sha256:" + "c" * 64)

    assert audited_call(fit_step, where, (), {"train": train, "model": model}) == "done"

    start, read, end = _events(state)
    assert [e.action for e in (start, read, end)] == [
        Action.STEP_START,
        Action.READ,
        Action.STEP_END,
    ]
    assert [e.kind for e in (start, read, end)] == [
        EventKind.EXECUTION,
        EventKind.ACCESS,
        EventKind.EXECUTION,
    ]
    assert {e.actor.id for e in (start, read, end)} == {PIPELINE_ACTOR}
    assert str(start.target) == "step/fit@train-1" == str(end.target)
    inputs = {"train": train.metadata["sha256"]}
    assert json.loads(start.detail_map()["inputs"]) == inputs
    assert start.detail_map()["image"] == where.image
    assert start.detail_map()["run"] == "train-1"
    assert json.loads(end.detail_map()["inputs"]) == inputs
    assert json.loads(end.detail_map()["outputs"]) == {"model": sha256_file(model.path)}
    assert end.outcome == Outcome.SUCCESS and "error_class" not in end.detail_map()
    assert str(read.target) == f"dataset/pima/train@{train.metadata['sha256']}"
    assert read.detail_map() == {"purpose": "train", "rows": "614"}
    assert _covered(state)  # signed before the step returned


def test_a_failing_step_ends_with_failure_and_its_error_class(tmp_path: Path) -> None:
    state = tmp_path / "state"
    train = _input(tmp_path / "train", b"rows", rows=3)
    Path(train.path).write_bytes(b"tampered")  # the bytes no longer match their digest
    model = _Artifact(str(tmp_path / "model"))

    with pytest.raises(DigestMismatch):
        audited_call(fit_step, StepRun(str(state), "r", "img"), (train, model), {})

    start, end = _events(state)  # the refused read is no read
    assert start.action == Action.STEP_START
    assert end.action == Action.STEP_END and end.outcome == Outcome.FAILURE
    assert end.detail_map()["error_class"] == "DigestMismatch"
    assert json.loads(end.detail_map()["outputs"]) == {}
    assert not Path(model.path).exists()
    assert _covered(state)


def test_a_bug_is_audited_as_a_failure_and_keeps_its_traceback(tmp_path: Path) -> None:
    state = tmp_path / "state"

    def buggy_step() -> None:
        raise ZeroDivisionError("bug")

    with pytest.raises(ZeroDivisionError):
        run_step(buggy_step, StepRun(str(state), "r", "img"))
    assert _events(state)[-1].detail_map()["error_class"] == "ZeroDivisionError"


def test_a_read_after_a_failure_inside_the_step_is_still_recorded(tmp_path: Path) -> None:
    """The data was read, then the step failed on it: the read is on the record."""
    state = tmp_path / "state"
    train = _input(tmp_path / "train", b"rows", rows=5)

    def contract_step(train: _Artifact) -> None:
        read_data(train, "training set", dataset="pima/train", purpose=Purpose.VALIDATE)
        raise DataContractError("column 'Glucose' has value 2000")

    with pytest.raises(DataContractError):
        audited_call(contract_step, StepRun(str(state), "r", "img"), (train,), {})
    _, read, end = _events(state)
    assert read.action == Action.READ and read.detail_map()["purpose"] == "validate"
    assert end.outcome == Outcome.FAILURE
    assert end.detail_map()["error_class"] == "DataContractError"


def test_imported_data_without_a_digest_is_named_by_its_bytes(tmp_path: Path) -> None:
    """The importer hands the source with an empty sha256 when none was expected."""
    source = _Artifact(str(tmp_path / "data.csv"), {"sha256": ""})
    Path(source.path).write_bytes(b"a,b\n1,2\n")

    def ingest_step(source: _Artifact) -> None:
        pass

    audited_call(ingest_step, StepRun(str(tmp_path / "s"), "r", "img"), (source,), {})
    start = _events(tmp_path / "s")[0]
    assert json.loads(start.detail_map()["inputs"]) == {"source": sha256_file(source.path)}


class _RefusingStore:
    """An entry store that takes ``allow`` entries, then refuses every append."""

    def __init__(self, store: Any, allow: int) -> None:
        self._store = store
        self._allow = allow

    def create_if_absent(self, seq: int, data: bytes) -> bool:
        if self._allow <= 0:
            raise StoreError("the audit store refuses the append (disk full)")
        self._allow -= 1
        return bool(self._store.create_if_absent(seq, data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _refusing(
    state: Path, monkeypatch: pytest.MonkeyPatch, allow: int
) -> tuple[AuditLog, list[str]]:
    log = GovernedRegistry(str(state)).audit
    log.store = _RefusingStore(log.store, allow)
    monkeypatch.setattr(audited, "open_step_log", lambda _state: log)
    ran: list[str] = []
    return log, ran


@pytest.mark.parametrize("allow", [0, 1])
def test_a_refused_append_fails_the_step_and_reports_no_success(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    allow: int,
) -> None:
    """allow=0: the start is refused, the step never runs; allow=1: the end is refused after
    the step ran, and the step still fails (exit 1), so the run never shows it as a success."""
    errors = tmp_path / "errors.jsonl"
    monkeypatch.setenv(ERROR_FILE_ENV, str(errors))
    state = tmp_path / "state"
    _, ran = _refusing(state, monkeypatch, allow)

    def register_step() -> str:
        ran.append("ran")
        return "registered"

    with pytest.raises(SystemExit) as info:
        run_step(register_step, StepRun(str(state), "r", "img"))
    assert info.value.code == 1
    assert ran == (["ran"] if allow else [])
    err = capsys.readouterr().err
    assert err.startswith("samdops: error: ") and err.count("\n") == 1
    assert json.loads(errors.read_text())["step"] == "register_step"
    assert len(_events(state)) == allow  # the start, at most; never an end


def test_every_component_runs_its_step_audited() -> None:
    """Each component passes run_step a StepRun built from its state, run and image
    parameters, never None (which would run the step unaudited)."""
    calls = 0
    for path in sorted((REPO / "components").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "run_step":
                calls += 1
                where = node.args[1]
                if isinstance(where, ast.Name):  # where = StepRun.of_component(...)
                    assigned = [
                        n.value
                        for n in ast.walk(tree)
                        if isinstance(n, ast.Assign)
                        and any(getattr(t, "id", "") == where.id for t in n.targets)
                    ]
                    where = assigned[0]
                assert isinstance(where, ast.Call), f"{path.name}:{node.lineno}"
                assert ast.unparse(where) == "StepRun.of_component(state, run, image)", (
                    f"{path.name}:{node.lineno}"
                )
    assert calls == 10


def test_a_subprocess_step_says_it_ran_outside_the_image(monkeypatch: pytest.MonkeyPatch) -> None:
    image = "registry.example/samdops/component@sha256:" + "a" * 64
    monkeypatch.delenv(GIT_COMMIT_ENV, raising=False)
    assert StepRun.of_component("s", "r", image).image == (
        f"subprocess (no image; the component names {image})"
    )
    monkeypatch.setenv(GIT_COMMIT_ENV, "0" * 40)  # set in the image
    assert StepRun.of_component("s", "r", image).image == image


# -- the test-set registration (AT-01: every create writes one event) ---------------------------


def test_test_set_registration_writes_its_create_event_first(tmp_path: Path) -> None:
    log = GovernedRegistry(str(tmp_path)).audit
    registry = Registry(tmp_path)
    document = registry.register_test_set(TEST_DIGEST, run="r1", rows=154, audit=log)
    (record,) = log.entries()
    event = record.event
    assert event.action == Action.CREATE and event.kind == EventKind.CHANGE
    assert str(event.target) == f"test-set@{TEST_DIGEST}"
    assert event.actor.id == PIPELINE_ACTOR
    assert event.detail_map() == {"kind": TEST_SET_KIND, "rows": "154", "run": "r1"}
    from samdops.digest import canonical_json

    assert event.new_hash == sha256_bytes(canonical_json(document))  # pins the record's bytes
    assert max(log.store.checkpoint_sizes()) == 1

    again = registry.register_test_set(TEST_DIGEST, run="r2", rows=154, audit=log)
    assert again == document and len(log) == 1  # the first stands; no second event


def test_test_set_registration_defaults_to_the_states_log(tmp_path: Path) -> None:
    Registry(tmp_path).register_test_set(TEST_DIGEST, run="r1", rows=154)
    (event,) = _events(tmp_path)
    assert event.action == Action.CREATE and event.detail_map()["kind"] == TEST_SET_KIND


def test_a_refused_test_set_event_creates_no_record(tmp_path: Path) -> None:
    log = GovernedRegistry(str(tmp_path)).audit
    log.store = _RefusingStore(log.store, 0)
    registry = Registry(tmp_path)
    with pytest.raises(SamdopsError):
        registry.register_test_set(TEST_DIGEST, run="r1", rows=154, audit=log)
    with pytest.raises(SamdopsError, match="was never registered"):
        registry.test_set(TEST_DIGEST)


def test_an_event_without_its_record_gets_the_record_it_pins(tmp_path: Path) -> None:
    """A writer killed between the event and the record file (or a concurrent run that won the
    event): the next registration creates the record from the bytes the event pins."""
    log = GovernedRegistry(str(tmp_path)).audit
    registry = Registry(tmp_path)
    first = registry.register_test_set(TEST_DIGEST, run="r1", rows=154, audit=log)
    key = tmp_path / "registry" / "test-sets" / f"{TEST_DIGEST.split(':')[1]}.json"
    key.chmod(0o644)
    key.unlink()  # as if the writer stopped after the event
    again = registry.register_test_set(TEST_DIGEST, run="r2", rows=154, audit=log)
    assert again == first and len(log) == 1


def test_the_secrets_a_step_reads_are_recorded_with_its_end(tmp_path: Path) -> None:
    from samdops.secrets.reads import SecretRead, report

    state = tmp_path / "state"
    model = _Artifact(str(tmp_path / "model"))
    read = SecretRead("samdops/s3", "samdops/data/s3", "samdops-train", "req-42", "Vault at x")

    def reading_step(model: _Artifact) -> str:
        report(read)  # what VaultSecrets does after a read
        return "done"

    where = StepRun(str(state), "train-1", "img")
    assert audited_call(reading_step, where, (), {"model": model}) == "done"
    report(read)  # a read outside the step is not the step's
    events = _events(state)
    assert [e.action for e in events] == [Action.STEP_START, Action.SECRET_READ, Action.STEP_END]
    secret = events[1]
    assert (secret.kind, str(secret.target), secret.actor.id) == (
        EventKind.SECURITY,
        "secret/samdops/s3@samdops-train",
        "svc:samdops-train",
    )
    assert secret.detail_map() == {"component": "samdops-train", "vault_request_id": "req-42"}
    assert secret.source.ref == "train-1"
