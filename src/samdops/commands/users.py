"""``samdops users``: the embedded user directory (ids are never reused; every change audited)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from samdops.commands._auth import add_password_args, read_password
from samdops.commands._state import add_state_argument
from samdops.governance.identity import UserDirectory, UserKind, check_new_user, check_user_id
from samdops.governance.roles import Role
from samdops.governance.text import escaped


def register(subparsers: Any) -> None:
    users = subparsers.add_parser("users", help="manage the embedded user directory")
    commands = users.add_subparsers(dest="users_command", metavar="COMMAND", required=True)

    boot = commands.add_parser("bootstrap", help="create the first user administrator")
    boot.add_argument("--id", required=True)
    boot.add_argument("--name", required=True, help="printed name")
    boot.add_argument("--password-stdin", action="store_true")
    boot.set_defaults(func=bootstrap)

    add = commands.add_parser("add", help="add a user (temporary password from stdin)")
    add.add_argument("id")
    add.add_argument("--name", required=True, help="printed name, shown with signatures")
    add.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    add.add_argument("--service-account", action="store_true")
    add_password_args(add)
    add.set_defaults(func=add_user)

    passwd = commands.add_parser("passwd", help="set your own password (old, then new, on stdin)")
    passwd.add_argument("--user", required=True)
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(func=change_password)

    reset = commands.add_parser(
        "reset",
        help="set a temporary password and unlock (yours, then the temporary one, on stdin)",
        description="Set a temporary password for user ID and clear its failed attempts. It only "
        "serves to choose a new one (`samdops users passwd`): nobody signs with it.",
    )
    reset.add_argument("id")
    add_password_args(reset)
    reset.set_defaults(func=reset_password)

    disable = commands.add_parser(
        "disable", help="disable a user for good (the id stays taken; yours on stdin)"
    )
    disable.add_argument("id")
    add_password_args(disable)
    disable.set_defaults(func=disable_user)

    listing = commands.add_parser("list", help="list users and their roles")
    listing.set_defaults(func=list_users)
    for parser in (boot, add, passwd, reset, disable, listing):
        add_state_argument(parser)


def bootstrap(args: argparse.Namespace) -> int:
    check_new_user(args.id, args.name)
    user = UserDirectory(args.state or None).bootstrap_admin(
        args.id, args.name, read_password(args)
    )
    print(f"created user administrator {user.id} ({escaped(user.name)})")
    return 0


def add_user(args: argparse.Namespace) -> int:
    check_new_user(args.id, args.name)  # before any password is read
    directory = UserDirectory(args.state or None)
    admin = directory.authenticate(args.user, read_password(args, "your password: "))
    temporary = read_password(args, "temporary password for the new user: ")
    kind = UserKind.SERVICE if args.service_account else UserKind.PERSON
    user = directory.add(
        admin,
        args.id,
        args.name,
        {Role(r) for r in args.role},
        kind=kind,
        temporary_password=temporary,
    )
    print(
        f"added {user.id} ({escaped(user.name)}), roles {', '.join(sorted(user.roles))}; "
        "the password is temporary until the user changes it"
    )
    return 0


def change_password(args: argparse.Namespace) -> int:
    old = read_password(args, "current password: ")
    new = read_password(args, "new password: ")
    UserDirectory(args.state or None).change_password(args.user, old, new)
    print(f"password changed for {args.user}", file=sys.stderr)
    return 0


def reset_password(args: argparse.Namespace) -> int:
    check_user_id(args.id)
    directory = UserDirectory(args.state or None)
    admin = directory.authenticate(args.user, read_password(args, "your password: "))
    temporary = read_password(args, f"temporary password for {args.id}: ")
    directory.reset_password(admin, args.id, temporary)
    print(
        f"temporary password set for {args.id}; it only serves to choose a new one with "
        f"`samdops users passwd --user {args.id}`"
    )
    return 0


def disable_user(args: argparse.Namespace) -> int:
    check_user_id(args.id)
    directory = UserDirectory(args.state or None)
    admin = directory.authenticate(args.user, read_password(args, "your password: "))
    directory.disable(admin, args.id)
    print(f"disabled {args.id}; the id is never reused")
    return 0


def list_users(args: argparse.Namespace) -> int:
    for user in UserDirectory(args.state or None).users():
        flags = [
            f
            for f, on in (
                ("locked", user.locked),
                ("disabled", user.disabled),
                ("temporary-password", user.must_change_password),
            )
            if on
        ]
        print(
            f"{user.id:<20} {escaped(user.name):<24} {user.kind:<8} {','.join(sorted(user.roles))}"
            f"  {' '.join(flags)}"
        )
    return 0
