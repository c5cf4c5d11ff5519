"""Categorical columns as the CLI and the monitoring pipeline name them, in one string.

``"Gender,Unit=Unit1+Unit2"``: ``Gender`` is categorical; ``Unit1`` and ``Unit2`` are the one-hot
columns of one variable ``Unit``, tested together so that a unit the reference never had shows
as a category of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from samdops.errors import ConfigError


@dataclass(frozen=True)
class CategoricalSpec:
    """The categorical columns, and the one-hot groups among them by variable name."""

    columns: tuple[str, ...]
    groups: Mapping[str, tuple[str, ...]]


def parse_categorical(spec: str) -> CategoricalSpec:
    """Parse ``"COL,NAME=COL1+COL2,..."``; whitespace around names is ignored."""
    columns: list[str] = []
    groups: dict[str, tuple[str, ...]] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, has_group, members = (s.strip() for s in item.partition("="))
        if not has_group:
            columns.append(item)
            continue
        group = tuple(m.strip() for m in members.split("+"))
        if not name or len(group) < 2 or not all(group):
            raise ConfigError(
                f"categorical group {item!r} must be NAME=COL1+COL2 (at least two one-hot columns)"
            )
        if name in groups:
            raise ConfigError(f"categorical group {name} is given twice")
        groups[name] = group
        columns.extend(group)
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise ConfigError(f"categorical column(s) {', '.join(repeated)} given more than once")
    return CategoricalSpec(tuple(columns), MappingProxyType(groups))
