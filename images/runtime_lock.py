"""Write the runtime subset of requirements/app.lock: what the image installs, with its hashes.

``app.lock`` holds the whole locked set, development tools included (pytest, moto, the OpenBao
server, kubectl, ...). The component image needs only samdops' runtime dependencies. This walks
the dependency closure of ``samdops`` (no extras) through the installed distributions' metadata,
checks every version against the lock, and prints the lock's own entries (pins and hashes) for
exactly those packages. The image then installs them with ``pip --require-hashes --no-deps``.

A few packages import a distribution they do not declare (:data:`UNDECLARED`); it is added to
the closure from the lock files given (``build.lock`` holds setuptools).

Usage: python images/runtime_lock.py requirements/app.lock [requirements/build.lock]
       > build/images/runtime.lock
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# package -> distributions it imports at run time without declaring them
UNDECLARED = {"deepchecks": ("setuptools",)}  # deepchecks imports pkg_resources
_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
# The image's interpreter: CPython 3.11 on x86_64 Linux (the lock's target platform).
_TARGET: dict[str, str] = {
    **{k: str(v) for k, v in default_environment().items()},
    "python_version": "3.11",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


def lock_entries(text: str) -> dict[str, tuple[str, str]]:
    """``name -> (version, entry text)`` for every pinned entry of a hashed lock file."""
    entries: dict[str, tuple[str, str]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _ENTRY.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            entries[current] = (match.group(2), line + "\n")
        elif current and line.startswith("    --hash="):
            version, body = entries[current]
            entries[current] = (version, body + line + "\n")
        elif not line.startswith(" "):
            current = None
    return entries


def closure(root: str) -> set[str]:
    """Canonical names of ``root`` and everything it requires (no extras), for the target."""
    seen: set[str] = set()
    todo = [(root, frozenset[str]())]
    while todo:
        name, extras = todo.pop()
        key = canonicalize_name(name)
        if key in seen and not extras:
            continue
        seen.add(key)
        todo.extend((extra, frozenset[str]()) for extra in UNDECLARED.get(key, ()))
        for spec in metadata.requires(name) or []:
            req = Requirement(spec)
            wanted = ["", *sorted(extras)]
            if req.marker and not any(req.marker.evaluate({**_TARGET, "extra": e}) for e in wanted):
                continue
            todo.append((req.name, frozenset(req.extras)))
    return seen


def runtime_lock(lock_text: str, root: str = "samdops") -> str:
    """The entries of ``lock_text`` for the runtime closure of ``root``, in lock order."""
    entries = lock_entries(lock_text)
    names = closure(root) - {canonicalize_name(root)}
    missing = sorted(n for n in names if n not in entries)
    if missing:
        raise SystemExit(f"runtime_lock: not in the lock file: {', '.join(missing)}")
    for name in sorted(names):
        installed = metadata.version(name)
        if installed != entries[name][0]:
            raise SystemExit(
                f"runtime_lock: {name} is {installed} here but {entries[name][0]} in the lock; "
                "run `make venv` again"
            )
    header = "# The runtime subset of the lock files, written by images/runtime_lock.py.\n"
    return header + "".join(body for name, (_, body) in entries.items() if name in names)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: runtime_lock.py requirements/app.lock [MORE.lock ...]", file=sys.stderr)
        return 2
    sys.stdout.write(runtime_lock("".join(Path(a).read_text(encoding="utf-8") for a in argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
