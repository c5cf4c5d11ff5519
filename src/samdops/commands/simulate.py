"""``samdops simulate hospital``: a seeded simulated ICU as daily Parquet files (``--out``),
or played against a model server hour by hour (``--live URL``)."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samdops.commands._state import add_state_argument
from samdops.errors import ConfigError
from samdops.hospital.scenarios import SCENARIOS, get_scenario

if TYPE_CHECKING:
    from samdops.hospital.generator import HospitalData
    from samdops.hospital.live import Played


def register(subparsers: Any) -> None:
    simulate = subparsers.add_parser("simulate", help="simulate data for monitoring tests")
    kinds = simulate.add_subparsers(dest="simulate_command", metavar="WHAT", required=True)
    hospital = kinds.add_parser(
        "hospital",
        help="a seeded ICU with sepsis, late labels and a drift scenario",
        description=f"Scenarios: {', '.join(SCENARIOS)}; compose them with '+'.",
    )
    hospital.add_argument("--scenario", default="no_drift", metavar="NAME")
    hospital.add_argument("--days", type=int, required=True)
    hospital.add_argument("--seed", type=int, required=True)
    hospital.add_argument("--beds", type=int, default=50)
    hospital.add_argument("--onset-day", type=float, help="override the scenario's onset day")
    hospital.add_argument("--out", type=Path, metavar="DIR", help="directory to write (created)")
    hospital.add_argument(
        "--live",
        metavar="URL",
        help="play the hospital against the model server at URL (http://HOST:PORT), hour by "
        "hour: each request carries every active stay's hours so far; the labels confirmed "
        "each hour go into the label feed at --state",
    )
    hospital.add_argument(
        "--speed",
        type=_speed,
        default=0.0,
        metavar="HOURS_PER_SECOND",
        help="with --live: simulated hours per real second (default 0: as fast as the server "
        "answers)",
    )
    hospital.add_argument(
        "--model",
        default="sepsis-risk",
        metavar="NAME",
        help="with --live: the served model's name (default: sepsis-risk)",
    )
    add_state_argument(hospital, home_alias=False)
    hospital.set_defaults(func=_hospital)


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be 0 or more hours per second; got {text[:20]!r}")
    return value


def _hospital(args: argparse.Namespace) -> int:
    from samdops.hospital.generator import simulate_hospital
    from samdops.hospital.writer import write_daily

    scenario = get_scenario(args.scenario)
    if args.out is None and args.live is None:
        raise ConfigError(
            "give --out DIR (daily files), --live URL (play against a server) or both"
        )
    if args.out is not None:
        _check_out(args.out)
    if args.onset_day is not None:
        from dataclasses import replace

        if not 0 <= args.onset_day < args.days:  # False for NaN too
            raise ConfigError(
                f"--onset-day {args.onset_day:g} is not within the {args.days} simulated days; "
                f"give an onset day from 0 to below {args.days}"
            )
        scenario = replace(scenario, onset_day=args.onset_day)
    data = simulate_hospital(scenario, days=args.days, seed=args.seed, beds=args.beds)
    if args.out is not None:
        written = write_daily(data, args.out)
        print(f"wrote {len(written)} files for scenario {scenario.name} to {args.out}")
    if args.live is not None:
        print(_play(data, args).summary(), flush=True)
    return 0


def _play(data: HospitalData, args: argparse.Namespace) -> Played:
    from samdops.config import load_config, packaged_config_path
    from samdops.hospital.live import play_live
    from samdops.monitoring.label_feed import LabelFeed, check_model_name

    name = check_model_name(args.model, "--model")
    contract = load_config(packaged_config_path("sepsis")).contract
    columns = [c.name for c in contract.columns if c.name != contract.label]
    return play_live(
        data,
        args.live,
        model_name=name,
        columns=columns,
        feed=LabelFeed(args.state or None, name),
        speed=args.speed,
    )


def _check_out(out: Path) -> None:
    """``out`` is a directory, or can be created as one (nothing on its path is a file)."""
    for path in (out, *out.parents):
        if path.is_dir():
            return
        if os.path.lexists(path):
            where = "" if path == out else f" ({path} is in the way)"
            raise ConfigError(
                f"--out {out} must be a directory to write into{where}; give a directory"
            )
