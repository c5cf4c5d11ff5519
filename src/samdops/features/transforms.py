"""Named feature transforms: raw contract rows in, model inputs out.

A training config names its transform (``features: sepsis_hourly``); the name is looked up here,
never imported from a path given in a config. A transform works on the rows of one dataset,
within each group (a stay) in time order, and returns one row of model inputs per input row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from samdops.errors import ConfigError, DataContractError

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Transform:
    """A named, deterministic function from raw rows to model inputs."""

    name: str
    description: str
    group: str  # history is taken within each group, never across groups
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    function: Callable[[pd.DataFrame], pd.DataFrame]

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model inputs of every row of ``frame``, aligned with it (same index, same order)."""
        missing = [c for c in self.inputs if c not in frame.columns]
        if missing:
            raise DataContractError(
                f"feature transform {self.name} needs column(s) {', '.join(missing)}, "
                "which the data lacks"
            )
        out = self.function(frame).reindex(frame.index)
        return out.loc[:, list(self.outputs)]


def _sepsis_hourly() -> Transform:
    from samdops.features import sepsis_hourly as features
    from samdops.hospital.columns import STAY_ID, TIME

    return Transform(
        name="sepsis_hourly",
        description="per measurement: last value, 6-hour trend, hours since measured, "
        "missing this hour; plus demographics and hours in the ICU",
        group=STAY_ID,
        inputs=(STAY_ID, TIME, *features.MEASURED, *features.DEMOGRAPHIC_FEATURES),
        outputs=features.FEATURES,
        function=features.sepsis_features,
    )


_TRANSFORMS: dict[str, Callable[[], Transform]] = {"sepsis_hourly": _sepsis_hourly}
TRANSFORM_NAMES = tuple(_TRANSFORMS)


def get_transform(name: str) -> Transform:
    """The transform called ``name``; raise :class:`ConfigError` naming the known ones."""
    factory = _TRANSFORMS.get(name)
    if factory is None:
        raise ConfigError(unknown_transform_message(name))
    return factory()


def unknown_transform_message(name: str) -> str:
    return (
        f"unknown feature transform {name!r}; samdops knows: {', '.join(TRANSFORM_NAMES)} "
        "(set `features:` to one of them, or leave it out to train on the contract's columns)"
    )
