"""File arguments and documents read from users: one-line errors that quote no content.

Each reader checks that a path is a readable regular file (not missing, not a directory, not a
FIFO or device, which would block or never end), decodes UTF-8 and parses JSON or YAML; every
failure is the given :class:`~samdops.errors.SamdopsError` subclass (``ConfigError`` unless the
caller names another), with the path and what is wrong, never the file's content. Parsed
documents nest at most :data:`MAX_DEPTH` levels, so code that walks them cannot recurse too deep.
:func:`field` reads one value out of a parsed document and names its path when it is missing or
of another JSON type.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any, cast

import yaml

from samdops.errors import ConfigError, SamdopsError

MAX_DEPTH = 64  # far deeper than any document samdops writes; shallow enough to walk recursively

ErrorType = type[SamdopsError]
_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (dict, "an object"),
    (list, "an array"),
    (str, "a string"),
    (bool, "true or false"),  # before int: bool is an int
    ((int, float), "a number"),
    (type(None), "null"),
)


def json_kind(value: Any) -> str:
    """What a parsed value is, in JSON's words (``an object``, ``an array``, ``a string`` ...)."""
    for kind, name in _KINDS:
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"


def regular_file(path: str | Path, what: str, *, error: ErrorType = ConfigError) -> Path:
    """``path``, checked to be an existing regular file (links followed) without opening it."""
    source = Path(path)
    try:
        mode = source.stat().st_mode
    except FileNotFoundError:
        raise error(f"{what} {source} does not exist") from None
    except OSError as exc:
        raise error(f"cannot read {what} {source}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise error(f"{what} {source} is a directory; give a file")
    if not stat.S_ISREG(mode):
        raise error(f"{what} {source} is not a regular file; give a file")
    return source


def read_file_bytes(path: str | Path, what: str, *, error: ErrorType = ConfigError) -> bytes:
    """The bytes of the regular file ``path`` (``what`` says what it is, e.g. "model card")."""
    source = regular_file(path, what, error=error)
    try:
        return source.read_bytes()
    except OSError as exc:
        raise error(f"cannot read {what} {source}: {exc.strerror}") from None


def decode_text(data: bytes, source: str, *, error: ErrorType = ConfigError) -> str:
    """``data`` decoded as UTF-8, or an error naming ``source`` and the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{source} is not UTF-8 text (invalid byte at offset {exc.start}); give a text file"
        ) from None


def read_file_text(path: str | Path, what: str, *, error: ErrorType = ConfigError) -> str:
    """The UTF-8 text of the regular file ``path``."""
    return decode_text(read_file_bytes(path, what, error=error), f"{what} {path}", error=error)


class _NotJson(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number")


def parse_json(
    data: bytes | str, source: str, *, error: ErrorType = ConfigError, max_depth: int = MAX_DEPTH
) -> Any:
    """The JSON value of ``data`` (strict: no NaN or Infinity), at most ``max_depth`` deep."""
    text = decode_text(data, source, error=error) if isinstance(data, bytes) else data
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise error(f"{source} is not valid JSON at {where}: {exc.msg}") from None
    except RecursionError:
        raise error(f"{source} nests deeper than {max_depth} levels") from None
    except ValueError as exc:  # NaN, Infinity; an integer of more digits than Python converts
        raise error(f"{source} is not valid JSON: {str(exc).partition(':')[0]}") from None
    return _shallow(value, source, error, max_depth)


def parse_yaml(
    text: str, source: str, *, error: ErrorType = ConfigError, max_depth: int = MAX_DEPTH
) -> Any:
    """The value of the YAML document ``text`` (safe loader), at most ``max_depth`` deep."""
    try:
        value = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "cannot be parsed"
        raise error(f"{source} is not valid YAML{where}: {problem}") from None
    except yaml.YAMLError:
        raise error(f"{source} is not valid YAML") from None
    except RecursionError:
        raise error(f"{source} nests deeper than {max_depth} levels") from None
    return _shallow(value, source, error, max_depth)


def read_json(path: str | Path, what: str, *, error: ErrorType = ConfigError) -> Any:
    """The JSON value of the regular file ``path``."""
    return parse_json(read_file_bytes(path, what, error=error), f"{what} {path}", error=error)


def read_yaml(path: str | Path, what: str, *, error: ErrorType = ConfigError) -> Any:
    """The YAML value of the regular file ``path``."""
    return parse_yaml(read_file_text(path, what, error=error), f"{what} {path}", error=error)


def _shallow(value: Any, source: str, error: ErrorType, max_depth: int) -> Any:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        for child in children:
            if isinstance(child, dict | list):
                if depth >= max_depth:
                    raise error(f"{source} nests deeper than {max_depth} levels")
                stack.append((child, depth + 1))
    return value


def field(
    document: Any,
    source: str,
    *path: str | int,
    kind: type | tuple[type, ...] = object,
    error: ErrorType = ConfigError,
) -> Any:
    """``document[path[0]][path[1]]...``, checked to be of ``kind``; else an error naming
    ``source`` and the path (``signatures[0].signer``) and what was found there."""
    value: Any = document
    where = ""
    for key in path:
        step = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}" if where else key
        container: type = list if isinstance(key, int) else dict
        if not isinstance(value, container):
            wanted = json_kind(container())
            raise error(f"{source}: {where or 'the document'} is {json_kind(value)}, not {wanted}")
        if isinstance(value, list) and not 0 <= int(key) < len(value):
            raise error(f"{source}: {step} is missing ({len(value)} item(s))")
        if isinstance(value, dict) and key not in value:
            raise error(f"{source}: {step} is missing")
        value, where = cast(Any, value)[key], step
    if kind is not object and (not isinstance(value, kind) or _bool_as_number(value, kind)):
        wanted = " or ".join(_names(kind))
        raise error(f"{source}: {where or 'the document'} is {json_kind(value)}, not {wanted}")
    return value


def _names(kind: type | tuple[type, ...]) -> list[str]:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return list(dict.fromkeys(json_kind(k() if k is not type(None) else None) for k in kinds))


def _bool_as_number(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return isinstance(value, bool) and bool not in kinds
