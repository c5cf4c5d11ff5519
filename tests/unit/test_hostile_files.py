"""Hostile and careless file arguments (issue #16): one line each, never a byte of the content.

The readers of :mod:`samdops.inputs`, a state location that is a file, and a package export to a
path that is a link or a file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samdops import settings as samdops_settings
from samdops.cli import main
from samdops.errors import ConfigError, VerificationError
from samdops.inputs import (
    MAX_DEPTH,
    field,
    parse_json,
    parse_yaml,
    read_file_text,
    read_json,
    read_yaml,
)

TOKEN = "hvs.CAESIJm3dGVzdC10b2tlbi1ub3QtYS1yZWFsLW9uZQ"


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("samdops: error: ")
    return captured.err.removeprefix("samdops: error: ").rstrip("\n")


def _error(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and TOKEN not in message
    return message


# The readers.
def test_a_file_argument_that_is_missing_a_directory_or_a_fifo(tmp_path: Path) -> None:
    assert _error(read_file_text, tmp_path / "x", "card") == f"card {tmp_path / 'x'} does not exist"
    assert (
        _error(read_file_text, tmp_path, "card") == f"card {tmp_path} is a directory; give a file"
    )
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it would block
    assert _error(read_file_text, fifo, "card") == f"card {fifo} is not a regular file; give a file"
    assert _error(read_file_text, "/dev/null", "card") == (
        "card /dev/null is not a regular file; give a file"
    )


def test_binary_and_latin_1_files_are_not_utf_8(tmp_path: Path) -> None:
    binary = tmp_path / "binary"
    binary.write_bytes(b"ok" + bytes(range(128, 256)))
    assert _error(read_file_text, binary, "card") == (
        f"card {binary} is not UTF-8 text (invalid byte at offset 2); give a text file"
    )
    latin = tmp_path / "latin"
    latin.write_bytes("Größe: 1\n".encode("latin-1"))
    assert _error(read_yaml, latin, "card") == (
        f"card {latin} is not UTF-8 text (invalid byte at offset 2); give a text file"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            f'{{"token": "{TOKEN}"',
            "x is not valid JSON at line 1, column 59: Expecting ',' delimiter",
        ),
        (f"{TOKEN}", "x is not valid JSON at line 1, column 1: Expecting value"),
        ('{"a": NaN}', "x is not valid JSON: NaN is not a JSON number"),
        ('{"a": -Infinity}', "x is not valid JSON: -Infinity is not a JSON number"),
        (
            "1" * 5000,
            "x is not valid JSON: Exceeds the limit (4300 digits) for integer string conversion",
        ),
        ("[" * 100_000, "x nests deeper than 64 levels"),
        ("[" * 65 + "]" * 65, "x nests deeper than 64 levels"),
    ],
    ids=["unclosed", "bare-token", "nan", "infinity", "huge-integer", "recursion", "too-deep"],
)
def test_malformed_json_is_one_line_without_its_content(text: str, message: str) -> None:
    assert _error(parse_json, text, "x") == message


def test_json_of_the_maximum_depth_parses() -> None:
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH, "x") is not None
    assert parse_json(b'{"a": [1, {"b": null}]}', "x") == {"a": [1, {"b": None}]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            f"token: {TOKEN}\n  bad: [\n",
            "x is not valid YAML at line 2, column 6: mapping values are not allowed here",
        ),
        (
            f"a: [{TOKEN}\n",
            "x is not valid YAML at line 2, column 1: expected ',' or ']', but got '<stream end>'",
        ),
        (
            "a: !!python/object:os.system {}\n",
            "x is not valid YAML at line 1, column 4: could not determine a constructor"
            " for the tag 'tag:yaml.org,2002:python/object:os.system'",
        ),
        ("[" * 100_000, "x nests deeper than 64 levels"),
        (
            "a:\n" + "".join("  " * i + "- \n" for i in range(1, 70)),
            "x nests deeper than 64 levels",
        ),
    ],
    ids=["mapping", "unclosed", "python-tag", "recursion", "too-deep"],
)
def test_malformed_yaml_is_one_line_without_its_content(text: str, message: str) -> None:
    assert _error(parse_yaml, text, "x") == message


def test_field_names_the_path_and_what_it_found() -> None:
    document = {"signatures": [{"signer": 7}, "abc"], "flag": True}
    assert field(document, "f.json", "signatures", 0, "signer", kind=int) == 7
    assert _error(field, document, "f.json", "signatures", 0, "signer", kind=str) == (
        "f.json: signatures[0].signer is a number, not a string"
    )
    assert _error(field, document, "f.json", "signatures", 1, "signer") == (
        "f.json: signatures[1] is a string, not an object"
    )
    assert _error(field, document, "f.json", "signatures", 5) == (
        "f.json: signatures[5] is missing (2 item(s))"
    )
    assert _error(field, document, "f.json", "flag", kind=(int, float)) == (
        "f.json: flag is true or false, not a number"
    )
    assert _error(field, [], "f.json", "a") == "f.json: the document is an array, not an object"
    with pytest.raises(VerificationError, match=r"^f\.json: nothing is missing$"):
        field(document, "f.json", "nothing", error=VerificationError)


def test_a_read_json_error_names_what_the_file_is(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text("[1, 2")
    assert _error(read_json, path, "evaluation") == (
        f"evaluation {path} is not valid JSON at line 1, column 6: Expecting ',' delimiter"
    )


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_no_bytes_make_the_json_reader_raise_anything_but_config_error(data: bytes) -> None:
    try:
        parse_json(data, "x")
    except ConfigError as exc:
        assert "\n" not in str(exc)


YAMLISH = st.text(alphabet=st.sampled_from(list("ab:-[]{}!&*|>#'\"\n\t ,?%@`\\.0")), max_size=80)


@settings(max_examples=200, deadline=None)
@given(text=YAMLISH | st.text(max_size=80))
def test_no_text_makes_the_yaml_reader_raise_anything_but_config_error(text: str) -> None:
    try:
        parse_yaml(text, "x")
    except ConfigError as exc:
        assert "\n" not in str(exc)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "0"]), children, max_size=3)
    ),
    max_leaves=6,
)
KINDS = st.sampled_from([object, dict, list, str, int, (int, float), bool, type(None)])


@settings(max_examples=200, deadline=None)
@given(
    document=JSON,
    path=st.lists(st.sampled_from(["a", "b", "0", 0, 1, -1]), max_size=4),
    kind=KINDS,
)
def test_field_raises_only_config_error(document: Any, path: list[Any], kind: Any) -> None:
    try:
        field(document, "x", *path, kind=kind)
    except ConfigError as exc:
        assert "\n" not in str(exc)


# A state location that is a file.
@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "state-file"
    path.write_text(TOKEN)
    return path


STATE_HINT = "give a directory or s3://BUCKET/PREFIX with --state (or $SAMDOPS_STATE)"


@pytest.mark.parametrize("flag", ["--home", "--state"])
def test_a_file_given_as_the_state_directory_is_one_line(
    flag: str, a_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _one_line_error(["registry", "list", flag, str(a_file)], capsys) == (
        f"the state location {a_file} is not a directory; {STATE_HINT}"
    )
    below = a_file / "sub"
    assert _one_line_error(["registry", "list", flag, str(below)], capsys) == (
        f"the state location {below} lies under {a_file}, which is not a directory; {STATE_HINT}"
    )
    assert not (a_file.parent / "keys").exists()


def test_a_file_in_the_environment_is_refused_too(
    a_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SAMDOPS_STATE", raising=False)
    monkeypatch.setenv("SAMDOPS_HOME", str(a_file))
    assert _one_line_error(["registry", "list"], capsys) == (
        f"the state location {a_file} is not a directory; {STATE_HINT}"
    )
    monkeypatch.setenv("SAMDOPS_STATE", f"file://{a_file}")
    with pytest.raises(ConfigError, match="is not a directory"):
        samdops_settings.state_location()


def test_a_dangling_state_link_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    assert samdops_settings.state_location(tmp_path / "new") == str(tmp_path / "new")
    # a link to a directory is followed; one that leads nowhere resolves to where it points
    assert samdops_settings.state_location(link) == str(tmp_path / "nowhere")


# package export OUT: a link is refused, not followed.
def _export(out: Path, home: Path, *extra: str) -> list[str]:
    return ["package", "export", "latest", str(out), "--state", str(home), *extra]


def test_export_refuses_an_out_that_is_a_link_a_file_or_below_a_file(
    tmp_path: Path, a_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    empty = tmp_path / "empty"
    empty.mkdir()
    link = tmp_path / "link"
    link.symlink_to(empty)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    refused = "is a symbolic link; give the path of a new directory (export does not follow links)"
    assert _one_line_error(_export(link, home), capsys) == f"{link} {refused}"
    assert _one_line_error(_export(dangling, home), capsys) == f"{dangling} {refused}"
    assert _one_line_error(_export(a_file, home), capsys) == (
        f"{a_file} exists and is not a directory; choose a new output directory"
    )
    below = a_file / "pkg"
    assert _one_line_error(_export(below, home), capsys) == (
        f"{below} lies under {a_file}, which is not a directory"
    )
    (tmp_path / "out.tar").symlink_to(a_file)
    assert _one_line_error(_export(tmp_path / "out", home, "--tar"), capsys) == (
        f"{tmp_path / 'out.tar'} exists and is not a regular file; move it away or export elsewhere"
    )
    assert sorted(p.name for p in empty.iterdir()) == []
    assert not (tmp_path / "nowhere").exists() and not home.exists()
