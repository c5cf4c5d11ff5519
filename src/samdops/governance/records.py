"""The local model registry: immutable, versioned registration records under the samdops home.

Layout::

    <home>/store/sha256/<hex>                        every artifact, content-addressed (or
                                                     another ArtifactStore, e.g. S3)
    <home>/registry/models/<name>/<version>.json     registration records, write-once
    <home>/registry/test-sets/<hex>.json             test-set digests, registered before training

A version number is claimed by creating its record file exclusively, so two concurrent
registrations never get the same version, and a record is never rewritten.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samdops.atomic import atomic_write_bytes
from samdops.clock import utc_timestamp
from samdops.digest import canonical_json, parse_digest
from samdops.errors import RegistryError
from samdops.settings import samdops_home
from samdops.store import ArtifactStore
from samdops.store.local import LocalStore

RECORD_SCHEMA = "samdops.registration/v1"
TEST_SET_SCHEMA = "samdops.test-set/v1"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class RegistryRecord:
    """One registration: a model version, its gate result and its lineage."""

    document: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.document["name"])

    @property
    def version(self) -> int:
        return int(self.document["version"])

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def status(self) -> str:
        return str(self.document["status"])

    @property
    def model_sha256(self) -> str:
        return str(self.document["model"]["sha256"])


class LocalRegistry:
    """Registration records and artifacts in a directory (the embedded default)."""

    def __init__(
        self, home: str | Path | None = None, *, store: ArtifactStore | None = None
    ) -> None:
        self.home = samdops_home(home)
        self.store: ArtifactStore = store or LocalStore(self.home / "store")
        self._models = self.home / "registry" / "models"
        self._test_sets = self.home / "registry" / "test-sets"

    def __repr__(self) -> str:
        return f"LocalRegistry({str(self.home)!r})"

    def register_test_set(self, digest: str, *, run: str, rows: int) -> dict[str, Any]:
        """Record that the test set ``digest`` exists, before any training uses it.

        Registering the same digest again keeps the first record (its time is what counts).
        """
        hexdigest = parse_digest(digest).split(":", 1)[1]
        path = self._test_sets / f"{hexdigest}.json"
        document = {
            "schema": TEST_SET_SCHEMA,
            "sha256": parse_digest(digest),
            "registered_at": utc_timestamp(),
            "run": run,
            "rows": rows,
        }
        try:
            atomic_write_bytes(path, canonical_json(document), exclusive=True)
        except FileExistsError:
            return self.test_set(digest)
        return document

    def test_set(self, digest: str) -> dict[str, Any]:
        """The registration of test set ``digest``; raise if it was never registered."""
        hexdigest = parse_digest(digest).split(":", 1)[1]
        path = self._test_sets / f"{hexdigest}.json"
        try:
            document: dict[str, Any] = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise RegistryError(
                f"test set {digest} was never registered; the split step registers it "
                "before training, so this model's evaluation cannot be trusted"
            ) from None
        return document

    def register(self, name: str, fields: dict[str, Any]) -> RegistryRecord:
        """Write a new version of model ``name`` holding ``fields``; return the record."""
        if not _NAME_RE.match(name):
            raise RegistryError(
                f"model name {name!r} is invalid; use lowercase letters, digits and '-'"
            )
        directory = self._models / name
        directory.mkdir(parents=True, exist_ok=True)
        for _ in range(1000):
            version = self._next_version(directory)
            document = {
                "schema": RECORD_SCHEMA,
                "name": name,
                "version": version,
                "registered_at": utc_timestamp(),
                **fields,
            }
            try:
                atomic_write_bytes(
                    directory / f"{version:06d}.json", canonical_json(document), exclusive=True
                )
            except FileExistsError:
                continue  # another registration claimed this version first
            except OSError as exc:
                raise RegistryError(f"cannot write the record of {name}@{version}: {exc}") from exc
            return RegistryRecord(document)
        raise RegistryError(f"could not claim a version for {name} in {directory}")

    @staticmethod
    def _next_version(directory: Path) -> int:
        versions = [int(p.stem) for p in directory.glob("*.json") if p.stem.isdigit()]
        return max(versions, default=0) + 1

    def records(self, name: str | None = None) -> list[RegistryRecord]:
        """Every registration (of ``name``, when given), ordered by name and version."""
        if not self._models.is_dir():
            return []
        names = [name] if name else sorted(p.name for p in self._models.iterdir() if p.is_dir())
        out = []
        for model_name in names:
            for path in sorted((self._models / model_name).glob("*.json")):
                out.append(RegistryRecord(json.loads(path.read_bytes())))
        return out

    def get(self, ref: str) -> RegistryRecord:
        """A record by ``name@version``, ``name`` (its latest version) or ``latest`` (newest)."""
        records = self.records()
        if not records:
            raise RegistryError(f"the registry at {self.home} is empty; run `samdops run train`")
        if ref == "latest":
            return max(records, key=lambda r: (r.document["registered_at"], r.version))
        name, _, version = ref.partition("@")
        matching = [r for r in records if r.name == name]
        if not matching:
            known = ", ".join(sorted({r.name for r in records}))
            raise RegistryError(f"no model named {name!r} in the registry; known: {known}")
        if not version:
            return matching[-1]
        for record in matching:
            if str(record.version) == version:
                return record
        raise RegistryError(f"{name} has no version {version}; latest is {matching[-1].id}")
