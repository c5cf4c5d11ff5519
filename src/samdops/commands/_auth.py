"""Who is at the command line: a password for re-authentication (from the terminal, or one line
of stdin), the launcher of a run, and the reader of a query."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from samdops.errors import AuthenticationFailed

if TYPE_CHECKING:
    from samdops.governance.launch import Launcher
    from samdops.governance.service import GovernedRegistry, Reader


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


def add_launcher_args(parser: argparse.ArgumentParser) -> None:
    """``--user`` and ``--password-stdin`` for who launches a run (its trainer)."""
    parser.add_argument(
        "--user",
        help="your user id: you sign in and are recorded as who launched the run (required "
        "once the state location has users; without users, the OS account is recorded)",
    )
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of a prompt",
    )


def launcher_from(args: argparse.Namespace, location: str, *, registers: bool) -> Launcher | None:
    """The launcher of ``--user``, signed in against the users at ``location`` (a role must grant
    registering a model when the run ``registers`` one), or None when no ``--user`` is given."""
    if not args.user:
        return None
    from samdops.governance.identity import UserDirectory
    from samdops.governance.launch import sign_in
    from samdops.governance.roles import Permission

    directory = UserDirectory(location)
    permission = Permission.REGISTER_MODEL if registers else Permission.READ_REGISTRY
    return sign_in(directory, args.user, read_password(args), permission=permission)


def add_reader_args(parser: argparse.ArgumentParser) -> None:
    """``--user`` and ``--password-stdin`` for who reads (see :func:`reader_from`)."""
    parser.add_argument(
        "--user",
        help="your user id: you sign in and your read is recorded in the audit log (required "
        "once the state location has users; without users, the OS account is recorded)",
    )
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of a prompt",
    )


def reader_from(args: argparse.Namespace, registry: GovernedRegistry, *, source: str) -> Reader:
    """Who reads: ``--user`` signed in with their password (a failure is refused and audited),
    or without ``--user`` the OS account, which ``registry.authorize_read`` accepts only while
    the state location has no users (the launcher's rule). ``source`` names the command.

    Use it with :func:`add_reader_args`, then ``registry.authorize_read(reader, permission,
    what, source=source, filters=...)`` before the read (a refusal is audited) and the read's own
    event after it (``registry.record_query`` or :func:`samdops.audit.activity.data_read` with
    ``reader.actor``).
    """
    if not args.user:
        return registry.os_reader()
    return registry.sign_in_reader(args.user, read_password(args), source=source)
