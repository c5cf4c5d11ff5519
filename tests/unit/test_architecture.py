"""Imports run one way: entry points -> steps -> domain -> infrastructure -> base.

Every ``import`` in the package is checked, at module level and inside functions, so a lazy
import cannot hide a dependency that points up the stack.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {
    "samdops": ROOT / "src" / "samdops",
    "samdops.components": ROOT / "components",
    "samdops.pipelines": ROOT / "pipelines",
}

# Lowest first. A module may import from its own layer or any layer below it.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "base",
        frozenset(
            {
                "",
                "errors",
                "digest",
                "atomic",
                "retry",
                "clock",
                "jsonsafe",
                "inputs",
                "settings",
                "_types",
                "tables",
            }
        ),
    ),
    ("infrastructure", frozenset({"store", "secrets", "cluster"})),
    (
        "domain",
        frozenset(
            {
                "config",
                "summary",
                "training",
                "features",
                "validation",
                "drift",
                "hospital",
                "sepsis",
                "monitoring",
                "audit",
                "governance",
                "pccp",
                "package",
                "serving",
            }
        ),
    ),
    ("steps", frozenset({"steps"})),
    ("entry", frozenset({"cli", "commands", "components", "pipelines", "launch"})),
)
RANK = {part: rank for rank, (_, parts) in enumerate(LAYERS) for part in parts}


def _part(module: str) -> str:
    """The top-level part of ``samdops.<part>...`` ('' for the package itself)."""
    rest = module.removeprefix("samdops").lstrip(".")
    return rest.split(".", 1)[0]


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for prefix, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((prefix, *parts))] = path
    return found


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every samdops module imported by the file, with its line (``from samdops import x`` as
    ``samdops.x``)."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("samdops")]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import"
            mod = node.module or ""
            if mod == "samdops":
                out += [(node.lineno, f"samdops.{a.name}") for a in node.names]
            elif mod.startswith("samdops."):
                out.append((node.lineno, mod))
    return out


def test_every_top_level_part_has_a_layer() -> None:
    unknown = sorted({_part(m) for m in _modules()} - RANK.keys())
    assert unknown == [], f"add these to a layer in LAYERS: {unknown}"


def test_imports_never_point_up_the_layers() -> None:
    violations = []
    for module, path in _modules().items():
        rank = RANK[_part(module)]
        for line, target in _imports(path):
            target_part = _part(target)
            if target_part == "__version__":
                continue
            if RANK.get(target_part, -1) > rank:
                violations.append(
                    f"{path.relative_to(ROOT)}:{line}: {module} ({LAYERS[rank][0]}) imports "
                    f"{target} ({LAYERS[RANK[target_part]][0]})"
                )
    assert not violations, "\n".join(violations)


def test_the_checker_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from samdops.steps.training import run_step\n")
    assert _imports(bad) == [(2, "samdops.steps.training")]
    assert RANK[_part("samdops.steps.training")] > RANK[_part("samdops.drift.result")]


def test_kfp_is_imported_only_by_entry_points_and_cluster() -> None:
    allowed = RANK["steps"] + 1
    offenders = []
    for module, path in _modules().items():
        part = _part(module)
        if RANK[part] >= allowed or part == "cluster":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] == "kfp" for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, "\n".join(offenders)


def test_environment_variables_are_read_only_in_settings() -> None:
    offenders = []
    for module, path in _modules().items():
        if module == "samdops.settings":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and node.attr in {"environ", "getenv", "environb", "putenv"}
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: os.{node.attr}")
    assert not offenders, "read it through samdops.settings:\n" + "\n".join(offenders)


def test_paths_into_the_checkout_point_at_it() -> None:
    """Modules that find files of the checkout by their own location (moved modules break it)."""
    from samdops.cluster.images import DIGESTS_LOCK
    from samdops.governance import lineage
    from samdops.package.export import default_lock_path

    assert DIGESTS_LOCK.parent == ROOT / "images"
    assert lineage._SOURCE_ROOT == ROOT
    assert default_lock_path() == ROOT / "requirements" / "app.lock"
