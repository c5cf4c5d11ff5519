"""The CLI's edge: usage errors and refusals of the machine are one line, exit status 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from samdops import cli


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        status = cli.main(list(argv))
    except SystemExit as exc:  # argparse exits
        status = int(exc.code or 0)
    return status, capsys.readouterr().err


def test_an_invalid_choice_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, err = _run(capsys, "run", "train", "--runner", "docker")
    assert status == 2
    assert err == (
        "samdops run train: error: argument --runner: invalid choice: 'docker' (choose from "
        "'subprocess', 'container'); see `samdops run train --help`\n"
    )


def test_a_missing_command_and_an_unknown_flag_are_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, err = _run(capsys)
    assert status == 2
    assert err == (
        "samdops: error: the following arguments are required: COMMAND; see `samdops --help`\n"
    )
    status, err = _run(capsys, "registry", "list", "--frobnicate")
    assert status == 2
    assert err == "samdops: error: unrecognized arguments: --frobnicate; see `samdops --help`\n"


def test_a_refusal_of_the_machine_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def denied(args: argparse.Namespace) -> int:
        raise PermissionError(13, "Permission denied", str(tmp_path / "records"))

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    registry = parser.parse_args(["registry", "list"])
    monkeypatch.setattr(registry, "func", denied)
    monkeypatch.setattr(parser, "parse_args", lambda argv: registry)
    status, err = _run(capsys, "registry", "list")
    assert status == 2
    assert err == f"samdops: error: {tmp_path / 'records'}: Permission denied\n"


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def bug(args: argparse.Namespace) -> int:
        raise KeyError("a defect, not a user error")

    parser = cli.build_parser()
    registry = parser.parse_args(["registry", "list"])
    monkeypatch.setattr(registry, "func", bug)
    monkeypatch.setattr(parser, "parse_args", lambda argv: registry)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    with pytest.raises(KeyError, match="a defect"):
        cli.main(["registry", "list"])


def test_a_directory_given_as_data_is_called_a_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, err = _run(
        capsys, "run", "train", "--home", str(tmp_path / "home"), "--data", str(tmp_path)
    )
    assert status == 2
    assert err == f"samdops: error: input file {tmp_path} is a directory; give a file\n"
    assert not (tmp_path / "home" / "runs").exists()  # refused before anything was written
