"""Steps verify every input digest, and a library error becomes one line and exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from samdops.config import TrainingConfig
from samdops.digest import sha256_file
from samdops.errors import DigestMismatch
from samdops.settings import ERROR_FILE_ENV
from samdops.steps.inprocess import _Artifact
from samdops.steps.training import run_step, train_step


def _artifact(path: Path, content: bytes, digest: str | None = None) -> _Artifact:
    path.write_bytes(content)
    return _Artifact(str(path), {"sha256": digest or sha256_file(path)})


def test_input_changed_after_its_digest_was_recorded_is_refused(
    tmp_path: Path, pima_config: TrainingConfig
) -> None:
    train = _artifact(tmp_path / "train", b"original bytes")
    Path(train.path).write_bytes(b"tampered bytes")
    with pytest.raises(DigestMismatch) as info:
        train_step(
            pima_config.to_json(),
            train,
            _Artifact(str(tmp_path / "m")),
            _Artifact(str(tmp_path / "c")),
        )
    assert str(info.value) == (
        f"training set has digest {sha256_file(train.path)}, expected "
        f"{train.metadata['sha256']}; the file changed or the wrong file was given"
    )
    assert not (tmp_path / "m").exists()


def test_input_without_digest_is_refused(tmp_path: Path, pima_config: TrainingConfig) -> None:
    train = _Artifact(str(tmp_path / "train"))
    Path(train.path).write_bytes(b"x")
    with pytest.raises(DigestMismatch, match="training set carries no sha256 digest"):
        train_step(
            pima_config.to_json(),
            train,
            _Artifact(str(tmp_path / "m")),
            _Artifact(str(tmp_path / "c")),
        )


def test_run_step_prints_one_line_and_records_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    errors = tmp_path / "errors.jsonl"
    monkeypatch.setenv(ERROR_FILE_ENV, str(errors))

    def failing_step() -> None:
        raise DigestMismatch("model has digest sha256:aa, expected sha256:bb")

    with pytest.raises(SystemExit) as info:
        run_step(failing_step, None)
    assert info.value.code == 1
    assert capsys.readouterr().err == (
        "samdops: error: model has digest sha256:aa, expected sha256:bb\n"
    )
    assert json.loads(errors.read_text()) == {
        "step": "failing_step",
        "type": "DigestMismatch",
        "error": "model has digest sha256:aa, expected sha256:bb",
    }


def test_run_step_keeps_tracebacks_of_bugs() -> None:
    def buggy_step() -> None:
        raise ZeroDivisionError("bug")

    with pytest.raises(ZeroDivisionError):
        run_step(buggy_step, None)


def test_run_step_returns_the_step_result() -> None:
    def step(a: int, *, b: str) -> dict[str, object]:
        return {"a": a, "b": b}

    assert run_step(step, None, 1, b="x") == {"a": 1, "b": "x"}


def test_monitoring_component_returns_the_step_result(tmp_path: Path) -> None:
    from samdops.components.drift_monitor import record_alerts

    findings = _artifact(tmp_path / "findings.json", json.dumps({"alerts": []}).encode())
    decision = record_alerts.python_func(
        findings=findings,
        state=str(tmp_path / "home"),
        run="r",
        retrain_plan_id="plan",
        image="img",
    )
    assert decision == ""


def test_failing_component_records_the_real_step_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from samdops.components.drift_monitor import record_alerts

    errors = tmp_path / "errors.jsonl"
    monkeypatch.setenv(ERROR_FILE_ENV, str(errors))
    findings = _Artifact(str(tmp_path / "findings.json"))  # no digest recorded
    Path(findings.path).write_bytes(b"{}")
    with pytest.raises(SystemExit) as info:
        record_alerts.python_func(
            findings=findings,
            state=str(tmp_path / "home"),
            run="r",
            retrain_plan_id="",
            image="img",
        )
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("samdops: error: drift findings ")
    (line,) = errors.read_text().splitlines()
    record = json.loads(line)
    assert record["step"] == "record_alerts_step" != "<lambda>"
    assert record["type"] == "DigestMismatch"


def test_error_record_names_the_step_through_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functools

    errors = tmp_path / "errors.jsonl"
    monkeypatch.setenv(ERROR_FILE_ENV, str(errors))

    def failing_step(what: str) -> None:
        raise DigestMismatch(f"{what} carries no sha256 digest")

    with pytest.raises(SystemExit):
        run_step(functools.partial(failing_step, "model"), None)
    assert json.loads(errors.read_text())["step"] == "failing_step"
