"""Every monitoring step verifies every input against the sha256 recorded by the step that
wrote it, and records the sha256 of every output: a changed, unrecorded or malformed digest is
refused with one line naming the input, before anything is written or emitted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from samdops.digest import sha256_file
from samdops.drift.alerts import Alert
from samdops.errors import DigestMismatch
from samdops.steps.inprocess import _Artifact as Art
from samdops.steps.monitoring import (
    MonitorOptions,
    drift_monitor_step,
    fetch_window_step,
    record_alerts_step,
)

DRIFT_INPUTS = {
    "reference": "reference data",
    "current": "current window",
    "labels": "window labels",
}


class _Sink:
    def __init__(self) -> None:
        self.emitted: list[Alert] = []

    def emit(self, alert: Alert) -> None:
        self.emitted.append(alert)


def _flip_a_byte(path: str) -> None:
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0x01
    Path(path).write_bytes(bytes(data))


def _mismatch(what: str, art: Art) -> str:
    return (
        f"{what} has digest {sha256_file(art.path)}, expected {art.metadata['sha256']}; "
        "the file changed or the wrong file was given"
    )


def _unrecorded(what: str) -> str:
    return f"{what} carries no sha256 digest; refusing to use unverified input"


def _fetched(tmp_path: Path, labelled: bool = True) -> dict[str, Art]:
    """fetch_window's three outputs for a small window (digests recorded by the step)."""
    rng = np.random.default_rng(7)
    pd.DataFrame({"x": rng.normal(size=200), "y": rng.normal(size=200)}).to_parquet(
        tmp_path / "ref.parquet"
    )
    pd.DataFrame({"x": rng.normal(size=100), "y": rng.normal(size=100)}).to_parquet(
        tmp_path / "cur.parquet"
    )
    pd.DataFrame({"id": [1, 2], "label": [0, 1]}).to_parquet(tmp_path / "labels.parquet")
    arts = {k: Art(str(tmp_path / "run" / k)) for k in DRIFT_INPUTS}
    fetch_window_step(
        str(tmp_path / "ref.parquet"),
        str(tmp_path / "cur.parquet"),
        str(tmp_path / "labels.parquet") if labelled else "",
        "day 1",
        arts["reference"],
        arts["current"],
        arts["labels"],
    )
    return arts


def _outputs(tmp_path: Path) -> dict[str, Art]:
    return {k: Art(str(tmp_path / "run" / k)) for k in ("report", "summary", "findings")}


def _monitor(tmp_path: Path, inputs: dict[str, Art], outputs: dict[str, Art]) -> dict[str, Any]:
    return drift_monitor_step(
        **inputs,
        window="day 1",
        options=MonitorOptions(state=str(tmp_path / "home")),
        **outputs,
    )


# -- fetch_window and drift_monitor record the digest of every output ----------------------------


@pytest.mark.parametrize("labelled", [True, False], ids=["labels", "no-labels"])
def test_fetch_window_records_the_digest_of_every_output(tmp_path: Path, labelled: bool) -> None:
    for art in _fetched(tmp_path, labelled).values():
        assert art.metadata["sha256"] == sha256_file(art.path)


def test_drift_monitor_records_the_digest_of_every_output(tmp_path: Path) -> None:
    outputs = _outputs(tmp_path)
    _monitor(tmp_path, _fetched(tmp_path), outputs)
    for name, art in outputs.items():
        assert art.metadata["sha256"] == sha256_file(art.path), name


# -- drift_monitor refuses a changed or unrecorded input -----------------------------------------


@pytest.mark.parametrize("name", DRIFT_INPUTS)
def test_drift_monitor_refuses_an_input_changed_after_its_digest_was_recorded(
    tmp_path: Path, name: str
) -> None:
    inputs, outputs = _fetched(tmp_path), _outputs(tmp_path)
    _flip_a_byte(inputs[name].path)
    with pytest.raises(DigestMismatch) as info:
        _monitor(tmp_path, inputs, outputs)
    assert str(info.value) == _mismatch(DRIFT_INPUTS[name], inputs[name])
    assert "\n" not in str(info.value)
    assert not any(Path(art.path).exists() for art in outputs.values())
    assert not (tmp_path / "home").exists()  # no history was appended


@pytest.mark.parametrize("name", DRIFT_INPUTS)
def test_drift_monitor_refuses_an_input_without_digest(tmp_path: Path, name: str) -> None:
    inputs, outputs = _fetched(tmp_path), _outputs(tmp_path)
    del inputs[name].metadata["sha256"]
    with pytest.raises(DigestMismatch) as info:
        _monitor(tmp_path, inputs, outputs)
    assert str(info.value) == _unrecorded(DRIFT_INPUTS[name])
    assert not any(Path(art.path).exists() for art in outputs.values())


@pytest.mark.parametrize("name", DRIFT_INPUTS)
def test_drift_monitor_refuses_an_input_recorded_under_another_file_s_digest(
    tmp_path: Path, name: str
) -> None:
    inputs, outputs = _fetched(tmp_path), _outputs(tmp_path)
    other = next(art for key, art in inputs.items() if key != name)
    inputs[name].metadata["sha256"] = other.metadata["sha256"]  # the wrong file was given
    with pytest.raises(DigestMismatch) as info:
        _monitor(tmp_path, inputs, outputs)
    assert str(info.value) == _mismatch(DRIFT_INPUTS[name], inputs[name])


@pytest.mark.parametrize("name", DRIFT_INPUTS)
def test_drift_monitor_refuses_an_input_with_a_malformed_digest(tmp_path: Path, name: str) -> None:
    inputs, outputs = _fetched(tmp_path), _outputs(tmp_path)
    inputs[name].metadata["sha256"] = "sha256:not-hex"
    with pytest.raises(DigestMismatch) as info:
        _monitor(tmp_path, inputs, outputs)
    assert str(info.value) == (
        f"{DRIFT_INPUTS[name]} carries a malformed sha256 digest 'sha256:not-hex'; "
        "refusing to use unverified input"
    )


# -- record_alerts compares the findings with their recorded digest ------------------------------

ALERT = Alert(
    severity="critical",
    kind="data_drift",
    window="day 1",
    features=("x",),
    evidence=("x shifted (KS, p=0)",),
    model="sepsis@1",
)


def _findings(tmp_path: Path) -> Art:
    """drift_monitor's findings for a window with one critical alert."""
    path = tmp_path / "findings.json"
    path.write_text(json.dumps({"alerts": [ALERT.as_dict()]}, sort_keys=True) + "\n")
    return Art(str(path), {"sha256": sha256_file(path)})


def test_record_alerts_stamps_each_alert_with_the_verified_findings_digest(
    tmp_path: Path,
) -> None:
    findings, sink = _findings(tmp_path), _Sink()
    assert record_alerts_step(findings, "", "r", "plan", sink=sink) == "retrain"
    assert [a.findings_sha256 for a in sink.emitted] == [findings.metadata["sha256"]]


def test_record_alerts_on_the_drift_monitor_s_own_findings(tmp_path: Path) -> None:
    outputs = _outputs(tmp_path)
    _monitor(tmp_path, _fetched(tmp_path), outputs)
    sink = _Sink()
    record_alerts_step(outputs["findings"], "", "r", "", sink=sink)  # verifies; does not refuse


def test_record_alerts_refuses_findings_changed_after_their_digest_was_recorded(
    tmp_path: Path,
) -> None:
    findings, sink = _findings(tmp_path), _Sink()
    _flip_a_byte(findings.path)
    with pytest.raises(DigestMismatch) as info:
        record_alerts_step(findings, "", "r", "plan", sink=sink)
    assert str(info.value) == _mismatch("drift findings", findings)
    assert sink.emitted == []


def test_record_alerts_refuses_findings_whose_alerts_were_edited(tmp_path: Path) -> None:
    findings, sink = _findings(tmp_path), _Sink()
    text = Path(findings.path).read_text().replace('"critical"', '"info"')  # hide the alert
    Path(findings.path).write_text(text)
    with pytest.raises(DigestMismatch) as info:
        record_alerts_step(findings, "", "r", "plan", sink=sink)
    assert str(info.value) == _mismatch("drift findings", findings)
    assert sink.emitted == []


def test_record_alerts_refuses_findings_without_digest(tmp_path: Path) -> None:
    findings, sink = _findings(tmp_path), _Sink()
    del findings.metadata["sha256"]
    with pytest.raises(DigestMismatch) as info:
        record_alerts_step(findings, "", "r", "plan", sink=sink)
    assert str(info.value) == _unrecorded("drift findings")
    assert sink.emitted == []


def test_record_alerts_refuses_findings_with_a_malformed_digest(tmp_path: Path) -> None:
    findings, sink = _findings(tmp_path), _Sink()
    findings.metadata["sha256"] = "deadbeef"
    with pytest.raises(DigestMismatch) as info:
        record_alerts_step(findings, "", "r", "plan", sink=sink)
    assert str(info.value) == (
        "drift findings carries a malformed sha256 digest 'deadbeef'; "
        "refusing to use unverified input"
    )
    assert sink.emitted == []
