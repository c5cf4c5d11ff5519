"""``samdops simulate hospital`` with sizes, onsets, seeds and outputs a careless user gives
(issue #16): refused in one line before anything is allocated or written."""

from __future__ import annotations

from pathlib import Path

import pytest

from samdops.cli import main
from samdops.errors import ConfigError
from samdops.hospital import get_scenario, simulate_hospital


def _simulate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["simulate", "hospital", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the simulator runs: every refusal must come before it."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the simulator ran before the arguments were checked")

    monkeypatch.setattr("samdops.hospital.generator.simulate_hospital", refuse)


def test_a_size_that_needs_more_memory_than_the_limit_is_refused_before_allocating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: --beds 100000000 took all 23 GB of the machine's memory
    out = tmp_path / "icu"
    status, stdout, err = _simulate(
        capsys, "--days", "2", "--seed", "1", "--beds", "100000000", "--out", str(out)
    )
    assert (status, stdout) == (2, "")
    assert err == (
        "samdops: error: 100000000 beds over 2 days need about 18,750,000 MiB of memory, more "
        "than the simulator's limit of 2048 MiB ($SAMDOPS_SIMULATE_MAX_MB); simulate fewer beds "
        "or days, or raise the limit\n"
    )
    assert not out.exists()


def test_the_memory_limit_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMDOPS_SIMULATE_MAX_MB", "1")
    with pytest.raises(ConfigError, match=r"^20 beds over 3 days need about 4 MiB of memory, "):
        simulate_hospital(get_scenario("no_drift"), days=3, seed=1, beds=20)
    monkeypatch.setenv("SAMDOPS_SIMULATE_MAX_MB", "lots")
    with pytest.raises(
        ConfigError,
        match=r"^\$SAMDOPS_SIMULATE_MAX_MB must be a positive whole number; got 'lots'$",
    ):
        simulate_hospital(get_scenario("no_drift"), days=3, seed=1, beds=20)


@pytest.mark.parametrize("onset", ["50", "2", "-1", "nan", "inf"])
def test_an_onset_outside_the_simulated_days_is_refused(
    onset: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_simulation: None
) -> None:
    # before: --onset-day 50 --days 2 wrote a "drift scenario" without any drift
    status, stdout, err = _simulate(
        capsys, "--days", "2", "--seed", "1", "--onset-day", onset, "--out", str(tmp_path / "o")
    )
    assert (status, stdout) == (2, "")
    assert err == (
        f"samdops: error: --onset-day {float(onset):g} is not within the 2 simulated days; give "
        "an onset day from 0 to below 2\n"
    )


@pytest.mark.parametrize("seed", ["-1", "99999999999999"])
def test_a_seed_out_of_range_is_refused(
    seed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: ValueError "expected non-negative integer" / OverflowError tracebacks
    status, _, err = _simulate(capsys, "--days", "1", "--seed", seed, "--out", str(tmp_path))
    assert status == 2
    assert err == f"samdops: error: the seed must be from 0 to 2147483647; got {seed}\n"


@pytest.mark.parametrize(
    ("out", "in_the_way"), [("afile", ""), ("afile/x/y", " (afile is in the way)")]
)
def test_out_must_be_a_directory_and_is_checked_first(
    out: str,
    in_the_way: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_simulation: None,
) -> None:
    # --out is the directory the daily files go in; a regular file there ended in a traceback
    monkeypatch.chdir(tmp_path)
    Path("afile").write_text("not a directory\n")
    status, stdout, err = _simulate(capsys, "--days", "1", "--seed", "1", "--out", out)
    assert (status, stdout) == (2, "")
    assert err == (
        f"samdops: error: --out {out} must be a directory to write into{in_the_way}; give a "
        "directory\n"
    )
    assert Path("afile").read_text() == "not a directory\n"


def test_an_existing_or_new_directory_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for out in (tmp_path, tmp_path / "new" / "icu"):
        status, stdout, _ = _simulate(
            capsys, "--days", "1", "--seed", "1", "--beds", "5", "--out", str(out)
        )
        assert status == 0 and stdout == f"wrote 3 files for scenario no_drift to {out}\n"
        assert (out / "data" / "day_0000.parquet").is_file()
