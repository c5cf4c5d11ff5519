"""Text that people give (printed names, user ids, reasons): one printable line, shown escaped.

A control or format character (newline, tab, ESC, NUL, DEL, U+2028, a bidi override ...) in a
name would let it forge lines, or hide text, wherever the name is shown next to a signature, so
new text holding one is refused. Text stored before that check is escaped when shown.
"""

from __future__ import annotations

from samdops.errors import ConfigError

_QUOTED_MAX = 64  # longer values are described, not quoted


def quoted(value: str) -> str:
    """``value`` quoted and escaped for an error message, or its length when it is long."""
    return repr(value) if len(value) <= _QUOTED_MAX else f"of {len(value)} characters"


def check_text(what: str, value: str, *, max_length: int) -> str:
    """``value`` if it is one line of printable text of at most ``max_length`` characters."""
    bad = next((i for i, c in enumerate(value) if not c.isprintable()), None)
    if bad is not None:
        raise ConfigError(
            f"the {what} holds a control character ({value[bad]!r} at position {bad}); "
            "give it as one line of printable text"
        )
    if len(value) > max_length:
        raise ConfigError(f"the {what} is longer than {max_length} characters; shorten it")
    return value


def escaped(value: str) -> str:
    """``value`` with every character that is not printable written as its escape (``\\n``)."""
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in value)
