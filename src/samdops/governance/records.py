"""The model registry: immutable, versioned registration records at the state location.

Layout (a directory or ``s3://BUCKET/PREFIX``, see :mod:`samdops.store.state`)::

    store/sha256/<hex>                          every artifact, content-addressed
    registry/models/<name>/<version>.json       registration records, write-once
    registry/test-sets/<hex>.json               test-set digests, registered before training

A record is created exclusively (a conditional PUT on S3) and never rewritten. Through
:meth:`~samdops.governance.service.GovernedRegistry.claim` a version is claimed by its audit
event first and the record file written after it (:meth:`Registry.new_record`,
:meth:`Registry.store_record`); :meth:`Registry.register` claims it by the file alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samdops.clock import utc_timestamp
from samdops.digest import canonical_json, parse_digest
from samdops.errors import RegistryError, SamdopsError
from samdops.store import ArtifactStore
from samdops.store.documents import create_next, numbered, numbers
from samdops.store.state import StateLocation, open_state

RECORD_SCHEMA = "samdops.registration/v1"
TEST_SET_SCHEMA = "samdops.test-set/v1"
_MODELS = "registry/models"
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


class Registry:
    """Registration records and test sets as write-once documents of the state location."""

    def __init__(self, location: str | Path | StateLocation | None = None) -> None:
        self.state = open_state(location)
        self.store: ArtifactStore = self.state.artifacts
        self._documents = self.state.documents

    def __repr__(self) -> str:
        return f"Registry({self.state.location!r})"

    def register_test_set(self, digest: str, *, run: str, rows: int) -> dict[str, Any]:
        """Record that the test set ``digest`` exists, before any training uses it.

        Registering the same digest again keeps the first record (its time is what counts).
        """
        document = {
            "schema": TEST_SET_SCHEMA,
            "sha256": parse_digest(digest),
            "registered_at": utc_timestamp(),
            "run": run,
            "rows": rows,
        }
        if not self._documents.create(_test_set_key(digest), canonical_json(document)):
            return self.test_set(digest)
        return document

    def test_set(self, digest: str) -> dict[str, Any]:
        """The registration of test set ``digest``; raise if it was never registered."""
        data = self._documents.read(_test_set_key(digest))
        if data is None:
            raise RegistryError(
                f"test set {digest} was never registered; the split step registers it "
                "before training, so this model's evaluation cannot be trusted"
            )
        document: dict[str, Any] = json.loads(data)
        return document

    def register(self, name: str, fields: dict[str, Any]) -> RegistryRecord:
        """Write a new version of model ``name`` holding ``fields``; return the record."""
        if not _NAME_RE.match(name):
            raise RegistryError(
                f"model name {name!r} is invalid; use lowercase letters, digits and '-'"
            )
        documents: dict[int, dict[str, Any]] = {}

        def make(version: int) -> bytes:
            documents[version] = {
                "schema": RECORD_SCHEMA,
                "name": name,
                "version": version,
                "registered_at": utc_timestamp(),
                **fields,
            }
            return canonical_json(documents[version])

        try:
            version = create_next(self._documents, f"{_MODELS}/{name}", "json", make, width=6)
        except SamdopsError as exc:
            raise RegistryError(f"cannot write a record of {name}: {exc}") from exc
        return RegistryRecord(documents[version])

    def new_record(self, name: str, version: int, fields: dict[str, Any]) -> RegistryRecord:
        """The record of ``name`` version ``version`` holding ``fields`` (not yet stored)."""
        if not _NAME_RE.match(name):
            raise RegistryError(
                f"model name {name!r} is invalid; use lowercase letters, digits and '-'"
            )
        return RegistryRecord(
            {
                "schema": RECORD_SCHEMA,
                "name": name,
                "version": version,
                "registered_at": utc_timestamp(),
                **fields,
            }
        )

    def next_version(self, name: str, taken: Iterable[int] = ()) -> int:
        """The version after every record file of ``name`` and every number in ``taken``."""
        highest = max([0, *numbers(self._documents, f"{_MODELS}/{name}", "json"), *taken])
        return highest + 1

    def store_record(self, record: RegistryRecord) -> bool:
        """Write ``record`` to its write-once file; ``False`` if it holds these bytes already.

        Raises :class:`RegistryError` if the file holds other bytes (written outside samdops).
        """
        key = numbered(f"{_MODELS}/{record.name}", record.version, "json", 6)
        data = canonical_json(record.document)
        try:
            if self._documents.create(key, data):
                return True
            held = self._documents.read(key)
        except SamdopsError as exc:
            raise RegistryError(f"cannot write the record of {record.id}: {exc}") from exc
        if held != data:
            raise RegistryError(
                f"the record file of {record.id} holds other bytes than its audited registration"
            )
        return False

    def has_record(self, name: str, version: int) -> bool:
        """Whether the record file of ``name`` version ``version`` exists."""
        key = numbered(f"{_MODELS}/{name}", version, "json", 6)
        return self._documents.read(key) is not None

    def records(self, name: str | None = None) -> list[RegistryRecord]:
        """Every registration (of ``name``, when given), ordered by name and version."""
        names = [name] if name else [n[:-1] for n in self._documents.names(_MODELS) if n[-1] == "/"]
        out = []
        for model_name in names:
            prefix = f"{_MODELS}/{model_name}"
            for version in numbers(self._documents, prefix, "json"):
                data = self._documents.read(numbered(prefix, version, "json", 6))
                if data is not None:
                    out.append(RegistryRecord(json.loads(data)))
        return out

    def get(self, ref: str) -> RegistryRecord:
        """A record by ``name@version``, ``name`` (its latest version) or ``latest`` (newest)."""
        records = self.records()
        if not records:
            raise RegistryError(
                f"the registry at {self.state.location} is empty; run `samdops run train`"
            )
        if ref == "latest":
            return max(records, key=lambda r: (r.document["registered_at"], r.version))
        name, at, version = ref.partition("@")
        if at and not version:
            raise RegistryError(
                f"{ref!r} names no version; write {name}@N, or {name} for its latest"
            )
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


def _test_set_key(digest: str) -> str:
    return f"registry/test-sets/{parse_digest(digest).split(':', 1)[1]}.json"
