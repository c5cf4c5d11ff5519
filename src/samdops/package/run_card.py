"""The model card of a freshly registered model, for the register step's Markdown output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samdops.config import TrainingConfig
from samdops.governance.service import GovernedRegistry
from samdops.package.card import (
    build_card,
    default_card_path,
    load_card_text,
    render_markdown,
)
from samdops.package.datasheet import build_datasheet


def card_markdown(
    governed: GovernedRegistry,
    ref: str,
    config: TrainingConfig,
    evaluation: dict[str, Any],
    snapshots: dict[str, str | Path],
    card_path: str | Path | None = None,
) -> str | None:
    """The model card of ``ref`` as Markdown, or None when no card text exists for it."""
    model = governed.get(ref)
    text = load_card_text(card_path or default_card_path(model.record.name))
    if text.model != model.record.name:
        return None
    artifacts = model.record.document["artifacts"]
    sheets = [
        build_datasheet(
            role,
            sha256=artifacts[role]["sha256"],
            uri=artifacts[role]["uri"],
            included=None,
            snapshot=Path(path),
            contract=config.contract,
            text=text.datasets,
        )
        for role, path in snapshots.items()
    ]
    card = build_card(
        record=model.record.document,
        governed=model.as_dict(),
        evaluation=evaluation,
        config=config,
        text=text,
        datasheets=sheets,
    )
    return render_markdown(card)
