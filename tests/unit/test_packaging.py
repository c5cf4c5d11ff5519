"""The wheel carries every package of the tree, and nothing generic goes into site-packages."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _declared() -> set[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    return set(config["packages"])


def test_every_package_is_declared() -> None:
    found = {
        ".".join(("samdops", *p.parent.relative_to(REPO / "src" / "samdops").parts)).rstrip(".")
        for p in (REPO / "src" / "samdops").rglob("__init__.py")
    }
    found |= {"samdops.components", "samdops.pipelines"}
    assert _declared() == found


def test_only_the_samdops_namespace_is_installed() -> None:
    assert all(name == "samdops" or name.startswith("samdops.") for name in _declared())
