"""``samdops serve`` in the main environment: its options, and the serving environment it runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from samdops.cli import main
from samdops.serving.__main__ import as_argv, parse_args


def test_the_options_are_passed_on_to_the_server_unchanged() -> None:
    args = parse_args(
        ["sepsis-risk@2", "--port", "9000", "--sha256", "ab" * 32, "--state", "s3://b/p"]
    )
    assert as_argv(args) == [
        "sepsis-risk@2",
        "--port",
        "9000",
        "--sha256",
        "ab" * 32,
        "--state",
        "s3://b/p",
    ]
    assert as_argv(parse_args(["sepsis-risk"])) == ["sepsis-risk", "--port", "8080"]


def test_a_missing_serving_environment_is_one_line_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    monkeypatch.setenv("SAMDOPS_SERVING_PYTHON", str(tmp_path / "none" / "python"))
    assert main(["serve", "sepsis-risk@1"]) == 2
    assert capsys.readouterr().err == (
        f"samdops: error: the serving environment {tmp_path / 'none' / 'python'} does not "
        "exist: create it with `make serving-venv`, or set $SAMDOPS_SERVING_PYTHON to its "
        "interpreter\n"
    )


@pytest.mark.hostile
@pytest.mark.parametrize("port", ["0", "65536", "-1", "80a", "١٢٣"])
def test_a_bad_port_is_refused_in_one_line(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["serve", "sepsis-risk@1", "--port", port])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "is not a TCP port (1-65535)" in err
