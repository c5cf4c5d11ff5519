"""``samdops simulate hospital``: write a seeded simulated ICU as daily Parquet files."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from samdops.errors import ConfigError
from samdops.hospital.scenarios import SCENARIOS, get_scenario


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
    hospital.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="directory to write (created)"
    )
    hospital.set_defaults(func=_hospital)


def _hospital(args: argparse.Namespace) -> int:
    from samdops.hospital.generator import simulate_hospital
    from samdops.hospital.writer import write_daily

    scenario = get_scenario(args.scenario)
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
    written = write_daily(data, args.out)
    print(f"wrote {len(written)} files for scenario {scenario.name} to {args.out}")
    return 0


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
