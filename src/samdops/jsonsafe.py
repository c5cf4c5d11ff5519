"""JSON has no NaN or infinity: the one helper that turns them into ``null``."""

from __future__ import annotations

import math
from typing import Any


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, infinity) replaced by ``None``, as JSON has
    no such numbers; dicts, lists and tuples are walked (a tuple comes back as a list)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
