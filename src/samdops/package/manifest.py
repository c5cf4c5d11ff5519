"""The package manifest: the sha256 of every file in the package, and the check against it.

``MANIFEST.json`` lists every file of the package except itself and its own signature
(``MANIFEST.dsse.json``), as canonical JSON ``{"schema", "files": {path: "sha256:<hex>"}}`` with
POSIX paths relative to the package root.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from samdops.digest import canonical_json, parse_digest, sha256_file
from samdops.errors import VerificationError
from samdops.inputs import parse_json

MANIFEST_FILE = "MANIFEST.json"
MANIFEST_SIGNATURE = "MANIFEST.dsse.json"
MANIFEST_SCHEMA = "samdops.package-manifest/v1"

_UNLISTED = frozenset({MANIFEST_FILE, MANIFEST_SIGNATURE})


@dataclass(frozen=True)
class Manifest:
    """Path -> digest of every file the package holds."""

    files: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, str]:
        return dict(self.files)

    def to_bytes(self) -> bytes:
        return canonical_json({"schema": MANIFEST_SCHEMA, "files": self.as_dict()})

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        document = parse_json(data, MANIFEST_FILE, error=VerificationError)
        try:
            if document["schema"] != MANIFEST_SCHEMA:
                raise ValueError(f"schema {str(document['schema'])[:60]!r}")
            files = tuple(sorted((str(k), parse_digest(v)) for k, v in document["files"].items()))
        except (ValueError, KeyError, TypeError, AttributeError, VerificationError) as exc:
            raise VerificationError(f"{MANIFEST_FILE} is not a package manifest: {exc}") from None
        return cls(files)


def package_files(root: Path) -> list[str]:
    """Every regular file under ``root`` (relative POSIX paths, sorted), manifest files excluded."""
    found = []
    for path in root.rglob("*"):
        if path.is_symlink():
            found.append(path.relative_to(root).as_posix())  # listed so the check refuses it
        elif path.is_file():
            found.append(path.relative_to(root).as_posix())
    return sorted(p for p in found if p not in _UNLISTED)


def build_manifest(root: Path) -> Manifest:
    """The manifest of the package directory ``root`` as it is now."""
    return Manifest(tuple((p, sha256_file(root / p)) for p in package_files(root)))


def check_files(root: Path, manifest: Manifest) -> list[str]:
    """One line per file that changed, is missing, was added or is a symlink; empty if all hold."""
    problems = []
    listed = manifest.as_dict()
    present = package_files(root)
    for path in present:
        if (root / path).is_symlink():
            problems.append(f"{path}: is a symbolic link; packages hold regular files only")
        elif path not in listed:
            problems.append(f"{path}: not in {MANIFEST_FILE} (added after export)")
        else:
            actual = sha256_file(root / path)
            if actual != listed[path]:
                problems.append(f"{path}: hashes to {actual}, {MANIFEST_FILE} has {listed[path]}")
    problems += [
        f"{path}: listed in {MANIFEST_FILE} but missing"
        for path in sorted(set(listed) - set(present))
    ]
    return problems
