"""The ``samdops`` command. Errors from the library are printed as one line, exit status 2."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from samdops import __version__
from samdops.errors import SamdopsError

# Each module exposes ``register(subparsers)``; the parser it adds sets ``func(args) -> int``.
_COMMAND_MODULES = (
    "samdops.commands.run",
    "samdops.commands.compile",
    "samdops.commands.registry",
    "samdops.commands.vault",
    "samdops.commands.sign",
    "samdops.commands.users",
    "samdops.commands.pccp",
    "samdops.commands.audit",
    "samdops.commands.submit",
    "samdops.commands.schedule",
    "samdops.commands.package",
    "samdops.commands.reproduce",
    "samdops.commands.simulate",
    "samdops.commands.monitor",
    "samdops.commands.labels",
    "samdops.commands.doctor",
    "samdops.commands.serve",
)


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line (its own print the usage block first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="samdops",
        description="MLOps for clinical ML models shipped as Software as a Medical Device.",
    )
    parser.add_argument("--version", action="version", version=f"samdops {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except SamdopsError as exc:
        print(f"samdops: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the machine refused a file or a socket: no bug of samdops'
        if isinstance(exc, BrokenPipeError):
            return 141  # the reader of stdout went away (`| head`)
        print(f"samdops: error: {_os_failure(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("samdops: interrupted", file=sys.stderr)
        return 130
    return status


def _os_failure(exc: OSError) -> str:
    reason = exc.strerror or type(exc).__name__
    if exc.filename is None:
        return reason
    target = f" -> {exc.filename2}" if exc.filename2 is not None else ""
    return f"{exc.filename}{target}: {reason}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
