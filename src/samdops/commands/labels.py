"""``samdops labels ingest FILE``: confirmed labels into the label feed the monitor reads."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samdops.commands._state import add_state_argument

if TYPE_CHECKING:
    from samdops.monitoring.label_feed import LabelColumns, LabelFeed


def register(subparsers: Any) -> None:
    labels = subparsers.add_parser(
        "labels", help="the label feed: labels confirmed after the hours they describe"
    )
    kinds = labels.add_subparsers(dest="labels_command", metavar="WHAT", required=True)
    ingest = kinds.add_parser(
        "ingest",
        help="store a file of confirmed labels for the monitor (write-once, content-addressed)",
        description="Check a CSV or Parquet file of confirmed labels (the model contract's "
        "group column, the hour column when its rows are hours, the label, and LabelArrival: "
        "the hour each label was confirmed, on the same clock; nothing else) and store the "
        "labels the feed does not hold yet. Ingesting the same file again stores nothing. "
        "The monitoring pipeline reads them with --labels labels://NAME.",
    )
    ingest.add_argument("file", type=Path, metavar="FILE", help="a .csv or .parquet file")
    ingest.add_argument(
        "--model",
        default="sepsis-risk",
        metavar="NAME",
        help="the registered model the labels are for (default: sepsis-risk); its contract "
        "names the columns",
    )
    ingest.add_argument(
        "--arrival",
        type=_hour,
        metavar="HOUR",
        help="the hour every label of FILE was confirmed, when FILE has no LabelArrival column",
    )
    add_state_argument(ingest, home_alias=False)
    ingest.set_defaults(func=_ingest)


def _hour(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an hour of 0 or more; got {text[:20]!r}")
    return value


def _ingest(args: argparse.Namespace) -> int:
    from samdops.monitoring.label_feed import LabelFeed, check_model_name, read_label_file

    name = check_model_name(args.model, "--model")
    frame = read_label_file(args.file)
    feed = LabelFeed(args.state or None, name)
    columns = _registered_columns(feed, name)
    done = feed.ingest(frame, columns, source=f"labels file {args.file}", arrival=args.arrival)
    if done.key is None:
        print(
            f"{args.file}: all {done.rows} labels are already in the label feed of {name}; "
            "nothing ingested"
        )
    else:
        print(
            f"ingested {done.new} labels for {name} ({done.known} already in the feed): "
            f"{feed.state.location}/{done.key}"
        )
    return 0


def _registered_columns(feed: LabelFeed, name: str) -> LabelColumns:
    """The label columns of the registered model ``name`` (its latest version's contract)."""
    from samdops.config import TrainingConfig
    from samdops.errors import RegistryError
    from samdops.governance.service import GovernedRegistry
    from samdops.monitoring.label_feed import LabelColumns

    governed = GovernedRegistry(feed.state, sinks=[])
    record = governed.get(name).record  # verified against its audit event
    try:
        digest = str(record.document["lineage"]["config"]["sha256"])
    except (KeyError, TypeError):
        raise RegistryError(
            f"{record.id} records no config: the columns of its labels are unknown"
        ) from None
    config = TrainingConfig.from_json(governed.registry.store.get_bytes(digest).decode("utf-8"))
    return LabelColumns.for_config(config)
