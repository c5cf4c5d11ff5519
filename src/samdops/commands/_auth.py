"""Reading a password for re-authentication: from the terminal, or one line of stdin."""

from __future__ import annotations

import argparse
import getpass
import sys

from samdops.errors import AuthenticationFailed


def add_password_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", required=True, help="your user id (signing re-authenticates)")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of a prompt",
    )


def read_password(args: argparse.Namespace, prompt: str = "password: ") -> str:
    """The password, never taken from a command-line flag (it would show in `ps`)."""
    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")  # a file saved on Windows ends in CRLF
    elif sys.stdin.isatty():
        line = getpass.getpass(prompt)
    else:
        raise AuthenticationFailed("no terminal to ask for the password; use --password-stdin")
    if not line:
        raise AuthenticationFailed("an empty password was given")
    return line
