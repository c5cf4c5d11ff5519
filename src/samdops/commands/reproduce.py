"""``samdops reproduce PKG``: rebuild the packaged model and compare its sha256."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import Any

from samdops.commands._auth import add_reader_args
from samdops.commands._state import add_state_argument


def register(subparsers: Any) -> None:
    reproduce = subparsers.add_parser(
        "reproduce", help="re-run training from a model package and compare the model digest"
    )
    reproduce.add_argument("package", type=Path, help="the package directory or its .tar archive")
    env = reproduce.add_mutually_exclusive_group()
    env.add_argument(
        "--check-env",
        action="store_true",
        help="also check that installed distributions match the packaged lock",
    )
    env.add_argument(
        "--rebuild-env",
        type=Path,
        metavar="DIR",
        help="create a virtual environment at DIR from the packaged lock and reproduce there",
    )
    reproduce.add_argument(
        "--train", type=Path, help="training snapshot, for packages exported with --no-data"
    )
    add_state_argument(reproduce)  # whose audit log records the read of the training data
    add_reader_args(reproduce)
    reproduce.set_defaults(func=reproduce_command)


def reproduce_command(args: argparse.Namespace) -> int:
    from samdops import settings
    from samdops.commands._auth import reader_from
    from samdops.governance.roles import Permission
    from samdops.governance.service import GovernedRegistry
    from samdops.package.access import REPRODUCE_SOURCE
    from samdops.package.reproduce import rebuild_environment, reproduce_package

    location = settings.state_location(args.state or None)
    registry = GovernedRegistry(location)
    source = REPRODUCE_SOURCE.ref
    if args.rebuild_env:
        if not args.user:  # the OS account is refused now, not after the environment is built
            reader = registry.os_reader()
            registry.authorize_read(reader, Permission.READ_DATA, "package/train", source=source)
        python = rebuild_environment(args.package, args.rebuild_env)
        command = [str(python), "-m", "samdops.cli", "reproduce", str(args.package)]
        command += ["--check-env", "--state", location]
        command += ["--train", str(args.train)] if args.train else []
        if args.user:  # the rebuilt samdops signs the user in (stdin and terminal are its own)
            command += ["--user", args.user]
            command += ["--password-stdin"] if args.password_stdin else []
        return subprocess.run(command, check=False).returncode
    reader = reader_from(args, registry, source=source)
    registry.authorize_read(reader, Permission.READ_DATA, "package/train", source=source)
    result = reproduce_package(
        args.package,
        by=reader.actor,
        state=location,
        check_env=args.check_env,
        train_snapshot=args.train,
    )
    if args.check_env:
        if result.env_mismatches:
            print(f"environment differs from the packaged lock in {len(result.env_mismatches)}:")
            for line in result.env_mismatches:
                print(f"  {line}")
        else:
            print("environment matches the packaged lock")
    print(f"packaged model  {result.packaged_sha256}")
    print(f"rebuilt model   {result.rebuilt_sha256}  ({result.seconds:.1f} s)")
    if result.match:
        print("MATCH")
        return 0 if not result.env_mismatches else 1
    print(f"DIFFERENT: first difference at {result.first_difference}")
    return 1
