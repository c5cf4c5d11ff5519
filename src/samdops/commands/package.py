"""``samdops package export|verify``: the self-contained model package."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from samdops.commands._auth import add_reader_args
from samdops.commands._state import add_state_argument


def register(subparsers: Any) -> None:
    package = subparsers.add_parser("package", help="export and verify model packages")
    commands = package.add_subparsers(dest="package_command", metavar="COMMAND", required=True)
    export = commands.add_parser("export", help="write one self-contained, signed model package")
    export.add_argument("model", help="NAME@VERSION, NAME (latest version) or 'latest'")
    export.add_argument("out", type=Path, help="the package directory to create")
    export.add_argument("--tar", action="store_true", help="also write OUT.tar")
    export.add_argument(
        "--no-data",
        action="store_true",
        help="ship the train/test digests and storage URIs instead of the snapshots",
    )
    export.add_argument(
        "--card", type=Path, help="model card text YAML (default: the packaged card of the model)"
    )
    export.add_argument("--lock", type=Path, help="the dependency lock the model was trained with")
    add_state_argument(export)
    add_reader_args(export)  # who exports: on the audit log with the package digest
    export.set_defaults(func=export_command)
    verify = commands.add_parser("verify", help="check a package offline; name what fails")
    verify.add_argument("package", type=Path, help="package directory or .tar archive")
    verify.add_argument(
        "--keys", type=Path, help="directory of trusted public keys to compare the package's with"
    )
    verify.set_defaults(func=verify_command)


def export_command(args: argparse.Namespace) -> int:
    from samdops.commands._auth import reader_from
    from samdops.governance.roles import Permission
    from samdops.governance.service import GovernedRegistry
    from samdops.launch.compiler import compile_pipeline
    from samdops.package.access import EXPORT_SOURCE
    from samdops.package.export import export_package

    started = time.monotonic()
    registry = GovernedRegistry(args.state or None)
    exporter = reader_from(args, registry, source=EXPORT_SOURCE.ref)
    filters = {"model": str(args.model)[:200]}
    registry.authorize_read(
        exporter,
        Permission.EXPORT_PACKAGE,
        "package/export",
        source=EXPORT_SOURCE.ref,
        filters=filters,
    )
    result = export_package(
        args.model,
        args.out,
        by=exporter.actor,
        state=registry.state,
        include_data=not args.no_data,
        tar=args.tar,
        card_path=args.card,
        lock_path=args.lock,
        compile_spec=compile_pipeline,
    )
    print(f"exported {result.model_id} ({result.model_sha256})")
    print(f"  digest   {result.package_sha256}  (its manifest; exported by {exporter.id})")
    print(f"  package  {result.directory}  ({result.files} files, {result.size_bytes} bytes)")
    if result.archive:
        print(f"  archive  {result.archive}")
    print(f"  took     {time.monotonic() - started:.1f} s")
    print(f"verify with: samdops package verify {result.directory}")
    return 0


def verify_command(args: argparse.Namespace) -> int:
    from samdops.package.verify import inspect_package

    report = inspect_package(args.package, trusted_keys=args.keys)
    print(f"package {report.package}: {report.model} ({report.model_sha256})")
    for line in report.lines():
        print(line)
    if report.ok:
        print("VERIFIED: every file, signature and proof holds")
        return 0
    print(f"FAILED: {len(report.failures)} problem(s)")
    return 1
