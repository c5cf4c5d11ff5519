"""Run every benchmark in bench/ (each module with a main()) and print its table."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> None:
    names = sys.argv[1:] or sorted(
        p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_") and p.stem != "run_all"
    )
    for name in names:
        print(f"\n# bench/{name}.py", flush=True)
        importlib.import_module(name).main()


if __name__ == "__main__":
    main()
