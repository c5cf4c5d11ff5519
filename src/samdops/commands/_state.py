"""The ``--state`` option: where the registry, the audit log and every durable record live."""

from __future__ import annotations

import argparse

STATE_HELP = (
    "state location: a directory or s3://BUCKET/PREFIX (default: $SAMDOPS_STATE, else "
    "$SAMDOPS_HOME, else ./.samdops)"
)


def add_state_argument(parser: argparse.ArgumentParser, *, home_alias: bool = True) -> None:
    """``--state LOC`` (also spelled ``--home``, its name before the state could be on S3)."""
    names = ("--state", "--home") if home_alias else ("--state",)
    parser.add_argument(*names, dest="state", default="", metavar="LOC", help=STATE_HELP)
