"""``samdops monitor`` on the tables a hospital really exports, and on hostile ones (issue #16).

String and mixed-type categoricals, new categories, values that are not finite or outside the
data contract, windows too small to test, duplicated rows, rows without a stay id, clashing
key columns, bad numbers on the command line and tables above the row limit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from samdops.cli import main
from samdops.drift.scipy_detector import ScipyDriftDetector
from samdops.hospital import get_scenario, simulate_hospital
from samdops.hospital.columns import ICULOS, LABEL, LABEL_ARRIVAL, STAY_ID, TIME
from samdops.monitoring.report import html_report, markdown_summary

CONTRACT = Path(__file__).resolve().parents[2] / "src/samdops/configs/sepsis-contract.yaml"
KEYS = ["--id-column", STAY_ID, "--time-column", TIME, "--admission-column", ICULOS]
ONE_HOT = ["--categorical", "Gender,Unit=Unit1+Unit2"]


def _strings(frame: pd.DataFrame) -> pd.DataFrame:
    """The ICU export's way: ``Unit`` = MICU/SICU and ``Gender`` = M/F as text."""
    unit = np.where(frame["Unit1"] == 1, "MICU", "SICU").astype(object)
    gender = np.where(frame["Gender"] == 1, "M", "F").astype(object)
    return frame.drop(columns=["Unit1", "Unit2"]).assign(Unit=unit, Gender=gender)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    drop = [LABEL, LABEL_ARRIVAL]
    reference = simulate_hospital(get_scenario("no_drift"), days=3, seed=11, beds=60).frame
    window = simulate_hospital(get_scenario("no_drift"), days=2, seed=13, beds=60).day(1)
    return {"ref": reference.drop(columns=drop), "cur": window.drop(columns=drop)}


def _write(tmp_path: Path, name: str, frame: pd.DataFrame) -> str:
    path = tmp_path / name
    if name.endswith(".csv"):
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return str(path)


def _monitor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["monitor", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _json(capsys: pytest.CaptureFixture[str], ref: str, cur: str, *args: str) -> dict:  # type: ignore[type-arg]
    status, out, err = _monitor(capsys, "--reference", ref, "--current", cur, *args, "--json")
    assert status == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_string_categoricals_from_an_icu_export_are_tested_as_categories(
    frames: dict[str, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: TypeError "agg function failed [how->mean,dtype->object]" in stay_summary
    ref = _write(tmp_path, "ref.csv", _strings(frames["ref"]))
    cur = _write(tmp_path, "cur.csv", _strings(frames["cur"]))
    report = _json(capsys, ref, cur, *KEYS, "--categorical", "Gender,Unit")
    data = report["data_drift"]
    assert data["status"] == "no drift" and data["is_drift"] is False
    assert data["features"]["Unit"]["test"] == "Chi2"
    assert data["features"]["Gender"]["test"] == "Chi2"
    assert data["quality"] == []


def test_a_category_the_reference_never_had_is_a_finding(
    frames: dict[str, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    window = _strings(frames["cur"])
    stays = sorted(window[STAY_ID].unique())
    window.loc[window[STAY_ID] == stays[0], "Unit"] = "CCU"  # one stay in a unit that just opened
    ref = _write(tmp_path, "ref.csv", _strings(frames["ref"]))
    cur = _write(tmp_path, "cur.csv", window)
    report = _json(capsys, ref, cur, *KEYS, "--categorical", "Gender,Unit")
    data = report["data_drift"]
    assert data["is_drift"] is True
    assert data["findings"] == [
        f"Unit: 1 of {len(stays)} stays in categories the reference never had (CCU)"
    ]
    assert [(q["name"], q["test"], q["statistic"]) for q in data["quality"]] == [
        ("Unit", "new category", 1.0)
    ]
    assert [(a["severity"], a["features"]) for a in report["alerts"]] == [("warning", ["Unit"])]


def test_mixed_type_categoricals_are_compared_as_labels() -> None:
    """Numbers and strings in one column (1 and "SICU"): each value is a category label."""
    reference = pd.DataFrame({"Unit": [1, "SICU", 2.0, "SICU"] * 10, "x": np.arange(40.0)})
    window = pd.DataFrame({"Unit": ["1", 1.0, "SICU", "2.0", 2, "SICU"] * 2, "x": np.arange(12.0)})
    detector = ScipyDriftDetector(["Unit", "x"], categorical=["Unit"], multivariate=None)
    result = detector.fit(reference).predict(window)
    unit = next(t for t in result.tests if t.name == "Unit")
    assert (unit.test, unit.is_drift) == ("Chi2", False)
    assert not [t for t in result.tests if t.kind == "quality"]


def test_a_reference_coding_numbers_and_a_window_spelling_words_differ_by_category(
    frames: dict[str, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reference codes Gender 0/1, the window spells it M/F: every M/F is a new category."""
    ref = _write(tmp_path, "ref.parquet", frames["ref"])
    window = frames["cur"].assign(Gender=np.where(frames["cur"]["Gender"] == 1, "M", "F"))
    cur = _write(tmp_path, "cur.csv", window)
    data = _json(capsys, ref, cur, *KEYS, *ONE_HOT)["data_drift"]
    n = window[STAY_ID].nunique()
    assert (
        f"Gender: {n} of {n} stays in categories the reference never had (F, M)"
        in (data["findings"])
    )


def test_a_category_name_is_shown_short_and_escaped() -> None:
    reference = pd.DataFrame({"Unit": ["MICU", "SICU"] * 10})
    window = pd.DataFrame({"Unit": ["MICU\n  approval  Rhea Release (rm1)"] * 6})
    detector = ScipyDriftDetector(["Unit"], categorical=["Unit"], multivariate=None)
    result = detector.fit(reference).predict(window)
    new = [t for t in result.tests if t.test == "new category"]
    assert [t.finding for t in new] == [
        "Unit: 6 of 6 rows in categories the reference never had "
        "('MICU\\n  approval  Rhea Release (rm1)')"
    ]


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_values_that_are_not_finite_are_a_critical_finding(
    bad: float,
    frames: dict[str, pd.DataFrame],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # before: "data drift: no drift" (the tests dropped every non-finite value silently)
    window = frames["cur"].copy()
    window.loc[window.index[:30], "HR"] = bad
    ref = _write(tmp_path, "ref.parquet", frames["ref"])
    cur = _write(tmp_path, "cur.parquet", window)
    report = _json(capsys, ref, cur, *KEYS, *ONE_HOT)
    data = report["data_drift"]
    assert data["is_drift"] is True and data["status"] == "DRIFT"
    assert data["findings"] == [
        f"HR: 30 of {len(window)} rows are not finite (inf or -inf); a sensor or export fault, "
        "not a measurement"
    ]
    assert [a["severity"] for a in report["alerts"]] == ["critical"]


def test_values_outside_the_contract_range_are_a_finding(
    frames: dict[str, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    window = frames["cur"].copy()
    window.loc[window.index[:10], "Lactate"] = 1e308
    window.loc[window.index[10:12], "HR"] = -5.0
    ref = _write(tmp_path, "ref.parquet", frames["ref"])
    cur = _write(tmp_path, "cur.parquet", window)
    status, out, _ = _monitor(
        capsys, "--reference", ref, "--current", cur, *KEYS, *ONE_HOT, "--contract", str(CONTRACT)
    )
    assert status == 0
    rows = len(window)
    assert out.splitlines() == [
        "data drift: DRIFT",
        f"  HR: 2 of {rows} rows outside the data contract's range [20, 300] (most extreme -5; "
        "unit or export error?)",
        f"  Lactate: 10 of {rows} rows outside the data contract's range [0.1, 35] (most "
        "extreme 1e+308; unit or export error?)",
    ]


def test_a_reference_with_infinite_values_is_refused(
    frames: dict[str, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = frames["ref"].copy()
    reference.loc[reference.index[:3], "MAP"] = np.inf
    ref = _write(tmp_path, "ref.parquet", reference)
    cur = _write(tmp_path, "cur.parquet", frames["cur"])
    status, out, err = _monitor(capsys, "--reference", ref, "--current", cur, *KEYS, *ONE_HOT)
    assert (status, out) == (2, "")
    assert err == (
        "samdops: error: reference column MAP has 3 values that are not finite (inf); monitor "
        "against a clean reference\n"
    )


def test_a_window_too_small_to_test_is_never_no_drift(
    frames: dict[str, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: "data drift: no drift" for a window of one stay, in which nothing was tested
    window = frames["cur"]
    one = window[window[STAY_ID] == window[STAY_ID].iloc[0]]
    ref = _write(tmp_path, "ref.parquet", frames["ref"])
    cur = _write(tmp_path, "one.parquet", one)
    status, out, _ = _monitor(capsys, "--reference", ref, "--current", cur, *KEYS, *ONE_HOT)
    assert (status, out) == (0, "data drift: not tested: only 1 stay (at least 5 needed)\n")
    data = _json(capsys, ref, cur, *KEYS, *ONE_HOT)["data_drift"]
    assert (data["tested"], data["is_drift"], data["features"]) == (False, False, {})


def test_a_small_window_with_bad_values_still_reports_them() -> None:
    reference = pd.DataFrame({"id": np.repeat(np.arange(20), 3), "x": np.arange(60.0)})
    window = pd.DataFrame({"id": [1, 1, 2], "x": [1.0, np.inf, 2.0]})
    result = (
        ScipyDriftDetector(["x"], id_column="id", multivariate=None).fit(reference).predict(window)
    )
    assert result.status == "DRIFT (not tested: only 2 stays (at least 5 needed))"
    markdown = markdown_summary(result, "w1")
    assert "Data drift: **DRIFT** (not tested: only 2 stays" in markdown
    page = html_report(result, "w1", {}, {})
    assert "<b>DRIFT</b> (not tested: only 2 stays (at least 5 needed))" in page


def test_an_untested_window_is_said_so_in_the_summary_and_report() -> None:
    reference = pd.DataFrame({"x": np.arange(30.0)})
    result = ScipyDriftDetector(["x"], multivariate=None).fit(reference).predict(reference[:3])
    assert "Data drift: not tested: only 3 rows (at least 5 needed)" in markdown_summary(
        result, "w"
    )
    assert "No drift" not in html_report(result, "w", {}, {})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: pd.concat([f, f.iloc[:7]]),
            "the current window has 7 rows that repeat an earlier row exactly; remove the "
            "duplicates (or fix the export) and monitor again",
        ),
        (
            lambda f: f.assign(**{STAY_ID: f[STAY_ID].astype(float).mask(f.index % 50 == 0)}),
            "the current window has {n} rows with no 'patient_id' (stay id); every row must "
            "belong to a stay: fix the export or drop those rows",
        ),
    ],
    ids=["duplicated-rows", "nan-stay-ids"],
)
def test_rows_that_cannot_be_told_apart_or_tied_to_a_stay_are_refused(
    change: object,
    message: str,
    frames: dict[str, pd.DataFrame],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    window = change(frames["cur"])  # type: ignore[operator]
    message = message.format(n=int((frames["cur"].index % 50 == 0).sum()))
    ref = _write(tmp_path, "ref.parquet", frames["ref"])
    cur = _write(tmp_path, "cur.parquet", window)
    status, out, err = _monitor(capsys, "--reference", ref, "--current", cur, *KEYS, *ONE_HOT)
    assert (status, out, err) == (2, "", f"samdops: error: {message}\n")


def test_an_id_column_equal_to_the_time_column_is_refused(
    frames: dict[str, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = _write(tmp_path, "ref.parquet", frames["ref"])
    cur = _write(tmp_path, "cur.parquet", frames["cur"])
    status, out, err = _monitor(
        capsys, "--reference", ref, "--current", cur, "--id-column", TIME, "--time-column", TIME
    )
    assert (status, out) == (2, "")
    assert err == (
        "samdops: error: the id column and the time column are both 'Time'; the id column "
        "names the stay, the time column its hour: give two different columns\n"
    )


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--threshold", "nan"),
        ("--threshold", "inf"),
        ("--threshold", "1.5"),
        ("--alpha", "nan"),
        ("--baseline-auroc", "-0.1"),
        ("--baseline-auroc", "x"),
    ],
)
def test_numbers_that_are_not_probabilities_are_refused(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["monitor", "--reference", "r.parquet", "--current", "c.parquet", option, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.endswith(
        f"error: argument {option}: must be a number from 0 to 1; got {value!r}; "
        "see `samdops monitor --help`\n"
    )
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_table_above_the_row_limit_is_refused_with_the_limit_named(
    suffix: str,
    frames: dict[str, pd.DataFrame],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAMDOPS_MONITOR_MAX_ROWS", "1000")
    ref = _write(tmp_path, f"ref{suffix}", frames["ref"])
    status, out, err = _monitor(capsys, "--reference", ref, "--current", ref, *KEYS)
    assert (status, out) == (2, "")
    assert err == (
        f"samdops: error: reference file {ref} has more than 1000 rows, the monitor's limit "
        "($SAMDOPS_MONITOR_MAX_ROWS); monitor a shorter window or raise the limit\n"
    )


@pytest.mark.parametrize("value", ["0", "-3", "ten", "1e6", "²"])
def test_a_bad_row_limit_is_a_config_error(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMDOPS_MONITOR_MAX_ROWS", value)
    path = _write(tmp_path, "t.csv", pd.DataFrame({"a": [1.0], "b": [2.0]}))
    status, _, err = _monitor(capsys, "--reference", path, "--current", path)
    assert status == 2
    assert err == (
        f"samdops: error: $SAMDOPS_MONITOR_MAX_ROWS must be a positive whole number; "
        f"got {value!r}\n"
    )


def test_a_directory_given_as_a_table_is_named_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "day.parquet"
    folder.mkdir()
    status, _, err = _monitor(capsys, "--reference", str(folder), "--current", str(folder))
    assert status == 2
    assert err == (
        f"samdops: error: reference file {folder} is a directory; give a .parquet or .csv file\n"
    )
