"""``samdops compile``: write the pipelines' IR YAML to stable paths, byte-identical each time."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compile",
        help="compile the pipelines to Kubeflow IR YAML",
        description="Compile every pipeline to <out>/<name>.yaml. With --release, refuse an "
        "image that is not pinned by @sha256: digest.",
    )
    parser.add_argument("--out", type=Path, default=Path("build/pipelines"))
    parser.add_argument("--release", action="store_true", help="require digest-pinned images")
    parser.set_defaults(func=compile_command)


def compile_command(args: argparse.Namespace) -> int:
    from samdops.launch.compiler import compile_all

    for path in compile_all(args.out, release=args.release):
        print(f"wrote {path}")
    return 0
