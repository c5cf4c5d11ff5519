"""Hostile or careless config files: one line each, and never a byte of the file's content."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samdops.config import default_config_path, load_config
from samdops.errors import ConfigError, SamdopsError
from samdops.pccp.plan import load_plan

TOKEN = "hvs.CAESIJm3dGVzdC10b2tlbi1ub3QtYS1yZWFsLW9uZQ"


def _config_naming_contract(tmp_path: Path, contract: Path) -> Path:
    source = default_config_path()
    raw = yaml.safe_load(source.read_text())
    raw["contract"] = str(contract)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _message(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_token_file_given_as_the_contract_is_not_printed(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    message = _message(_config_naming_contract(tmp_path, token))
    assert message == f"contract file {token} must hold a YAML mapping; it holds a str"
    assert "hvs." not in message


def test_a_passwd_like_file_given_as_the_contract_is_not_printed(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    passwd.write_text(
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    )
    message = _message(_config_naming_contract(tmp_path, passwd))
    assert "root" not in message.replace(str(passwd), "")


def test_a_long_string_value_is_described_not_quoted(tmp_path: Path) -> None:
    source = default_config_path()
    raw = yaml.safe_load(source.read_text())
    raw["contract"] = str(source.parent / raw["contract"])
    raw["seed"] = TOKEN
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    message = _message(path)
    assert message.endswith("(got a string of 46 characters)")
    assert TOKEN not in message


def test_a_short_value_is_still_quoted(tmp_path: Path) -> None:
    source = default_config_path()
    raw = yaml.safe_load(source.read_text())
    raw["contract"] = str(source.parent / raw["contract"])
    raw["seed"] = "seven"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert _message(path).endswith("(got 'seven')")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xfe\x00binary", "is not UTF-8 text; pass a YAML file"),
        (b"name: [unclosed\n", "is not valid YAML at line 2, column 1: expected ',' or ']', but"),
        (b"a: 1\n  b: 2\n", "is not valid YAML at line 2, column 4: mapping values are not"),
        (b"", "must hold a YAML mapping; it holds empty"),
        (b"- a\n- b\n", "must hold a YAML mapping; it holds a list"),
    ],
)
def test_malformed_config_files_are_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    assert _message(path).startswith(f"config file {path} {expected}")


def test_a_directory_given_as_the_config(tmp_path: Path) -> None:
    assert _message(tmp_path) == f"config file {tmp_path} is a directory; pass a YAML file"


def test_a_directory_given_as_the_plan(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^plan file .* is a directory; pass a YAML file$"):
        load_plan(tmp_path)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_no_config_bytes_raise_anything_but_a_samdops_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    try:
        load_config(path)
    except SamdopsError as exc:
        assert "\n" not in str(exc)
