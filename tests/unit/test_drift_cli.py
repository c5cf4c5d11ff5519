"""``samdops monitor``: JSON report, exit 0 on drift, exit 2 with one clear line on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from samdops.cli import main
from samdops.hospital import get_scenario, simulate_hospital
from samdops.hospital.columns import CATEGORICAL_SPEC, ICULOS, LABEL, LABEL_ARRIVAL, STAY_ID, TIME

ARGS = [
    *("--id-column", STAY_ID, "--time-column", TIME, "--admission-column", ICULOS),
    *("--categorical", CATEGORICAL_SPEC),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("monitor")
    reference = simulate_hospital(get_scenario("no_drift"), days=3, seed=11, beds=80).frame
    drifted = simulate_hospital(get_scenario("lactate_mgdl"), days=5, seed=12, beds=80).day(4)
    control = simulate_hospital(get_scenario("no_drift"), days=2, seed=13, beds=80).day(1)
    out = {"ref": root / "ref.parquet", "cur": root / "cur.csv", "ok": root / "ok.parquet"}
    drop = [LABEL, LABEL_ARRIVAL]
    reference.drop(columns=drop).to_parquet(out["ref"])
    out["ref_labelled"] = root / "ref_labelled.parquet"
    reference.to_parquet(out["ref_labelled"])
    drifted.drop(columns=drop).to_csv(out["cur"], index=False)
    control.drop(columns=drop).to_parquet(out["ok"])
    out["mismatch"] = root / "mismatch.parquet"
    drifted.drop(columns=[*drop, "HR"]).assign(Extra=1.0).to_parquet(out["mismatch"])
    out["extra"] = root / "extra.parquet"
    control.drop(columns=drop).assign(Extra=1.0, Note="x").to_parquet(out["extra"])
    out["broken"] = root / "broken.parquet"
    out["broken"].write_bytes(b"not parquet")
    out["labels"] = root / "labels.csv"
    rng = np.random.default_rng(0)
    score = rng.beta(0.6, 3.0, 2000)
    pd.DataFrame({"score": score, "label": (rng.uniform(size=2000) < score).astype(int)}).to_csv(
        out["labels"], index=False
    )
    return out


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["monitor", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_drift_is_a_finding_exit_0_with_json(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(
        capsys, "--reference", str(files["ref"]), "--current", str(files["cur"]), *ARGS, "--json"
    )
    assert status == 0
    report = json.loads(out)
    data = report["data_drift"]
    assert data["is_drift"] is True and data["blamed"] == "Lactate"
    assert set(data["features"]["Lactate"]) >= {"test", "p_value", "is_drift"}
    assert data["features"]["Lactate"]["is_drift"] is True
    assert data["features"]["HR"]["is_drift"] is False
    assert data["unit"] == "stay"
    assert any(f.startswith("Lactate about 9x larger") for f in data["findings"])
    assert report["concept_drift"]["is_drift"] is False


def test_no_drift_exit_0_and_labels_give_concept_metrics(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(
        capsys,
        *("--reference", str(files["ref"]), "--current", str(files["ok"]), *ARGS),
        *("--labels", str(files["labels"]), "--baseline-auroc", "0.75", "--json"),
    )
    assert status == 0
    report = json.loads(out)
    assert report["data_drift"]["is_drift"] is False
    concept = report["concept_drift"]
    assert concept["status"] == "labelled" and concept["estimated"] is False
    assert 0.7 < concept["auroc"] < 0.9 and concept["is_drift"] is False


def test_label_columns_of_the_reference_are_not_inputs(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A training reference keeps its labels; the window's labels have not arrived yet."""
    status, out, err = _run(
        capsys, "--reference", str(files["ref_labelled"]), "--current", str(files["ok"]), *ARGS
    )
    assert (status, err) == (0, "")
    status, out, _ = _run(
        capsys,
        *("--reference", str(files["ref_labelled"]), "--current", str(files["ok"]), *ARGS),
        "--json",
    )
    assert status == 0
    tested = json.loads(out)["data_drift"]["features"]
    assert LABEL not in tested and LABEL_ARRIVAL not in tested and "HR" in tested


def test_columns_the_reference_lacks_are_reported_untested(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--reference", str(files["ref"]), "--current", str(files["extra"]), *ARGS)
    status, out, _ = _run(capsys, *args, "--json")
    assert status == 0
    data = json.loads(out)["data_drift"]
    assert data["untested_columns"] == ["Extra", "Note"]
    assert "Extra" not in data["features"] and data["is_drift"] is False
    status, out, _ = _run(capsys, *args)
    assert status == 0 and "not in the reference, not tested: Extra, Note" in out


@pytest.mark.parametrize(
    ("current", "extra", "message"),
    [
        (
            "mismatch",
            [],
            "samdops: error: current columns do not match the reference: current lacks HR",
        ),
        ("missing", [], "samdops: error: current file {dir}/missing.parquet does not exist"),
        ("broken", [], "samdops: error: current file {dir}/broken.parquet is unreadable: "),
        (
            "cur",
            ["--categorical", "Gender", "--id-column", "nope"],
            "samdops: error: column nope is not in the reference",
        ),
        (
            "cur",
            ["--backend", "sklearn"],
            "samdops: error: drift backend 'sklearn' is not one of scipy, alibi\n",
        ),
        (
            "cur",
            ["--categorical", "Gender,Unit=Unit1"],
            "samdops: error: categorical group 'Unit=Unit1' must be NAME=COL1+COL2",
        ),
    ],
)
def test_bad_input_exit_2_one_line(
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    current: str,
    extra: list[str],
    message: str,
) -> None:
    path = files.get(current, files["ref"].parent / f"{current}.parquet")
    status, out, err = _run(
        capsys, "--reference", str(files["ref"]), "--current", str(path), *extra, "--json"
    )
    assert status == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith(message.format(dir=files["ref"].parent))
