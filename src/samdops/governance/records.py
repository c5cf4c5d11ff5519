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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samdops.audit.entry import AuditRecord
from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Outcome, Source, SourceKind
from samdops.audit.event import Target as AuditTarget
from samdops.audit.log import AuditLog
from samdops.clock import utc_timestamp
from samdops.digest import canonical_json, parse_digest
from samdops.errors import RegistryError, SamdopsError
from samdops.store import ArtifactStore
from samdops.store.documents import create_next, numbered, numbers
from samdops.store.state import StateLocation, open_state

RECORD_SCHEMA = "samdops.registration/v1"
TEST_SET_SCHEMA = "samdops.test-set/v1"
TEST_SET_KIND = "test-set"  # the ``kind`` detail of a test set's CREATE audit event
TEST_SET_TARGET = "test-set"  # its target: ``test-set@sha256:<hex>``
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

    def register_test_set(
        self,
        digest: str,
        *,
        run: str,
        rows: int,
        audit: AuditLog | None = None,
        actor: Actor | None = None,
    ) -> dict[str, Any]:
        """Record that the test set ``digest`` exists, before any training uses it.

        Its CREATE audit event (kind ``test-set``, pinning the record's sha256) is appended to
        ``audit`` (default: this state's log) before the write-once record is created, by
        ``actor`` (default: the pipeline service account) for ``run``; if it cannot be, nothing
        is created. Registering the same digest again keeps the first record (its time is what
        counts) and writes no event. The record's bytes go to the store first, so a writer that
        finds the event without its record (another run's, or one killed in between) creates
        the record from exactly the bytes the event pins.
        """
        key = _test_set_key(digest)
        held = self._documents.read(key)
        if held is not None:
            document: dict[str, Any] = json.loads(held)
            return document
        log = audit if audit is not None else self._audit_log()
        document = {
            "schema": TEST_SET_SCHEMA,
            "sha256": parse_digest(digest),
            "registered_at": utc_timestamp(),
            "run": run,
            "rows": rows,
        }
        data = canonical_json(document)
        record_sha256 = self.store.put_bytes(data)
        target = AuditTarget(TEST_SET_TARGET, parse_digest(digest))
        draft = EventDraft(
            actor=actor or _pipeline_actor(),
            action=Action.CREATE,
            target=target,
            source=Source(SourceKind.PIPELINE_RUN, run or "unknown"),
            new_hash=record_sha256,
            details={"kind": TEST_SET_KIND, "rows": str(int(rows)), "run": run},
        )
        pinned: list[str] = []

        def make(records: Sequence[AuditRecord]) -> EventDraft | None:
            pinned[:] = [str(r.event.new_hash) for r in records if _creates(r, target)]
            return None if pinned else draft

        if log.append_if(make) is not None:
            pinned = [record_sha256]
        else:
            data = self.store.get_bytes(pinned[0])
        self._documents.create(key, data)
        return self.test_set(digest)

    def _audit_log(self) -> AuditLog:
        """This state's audit log with its platform signer (no SIEM sinks)."""
        from samdops.audit.store import state_entry_store
        from samdops.governance.identity import AUDIT_KEY_NAME
        from samdops.governance.keys import platform_signer

        signer = platform_signer(self.state, AUDIT_KEY_NAME)
        return AuditLog(state_entry_store(self.state), signer=signer)

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


def _creates(record: AuditRecord, target: AuditTarget) -> bool:
    """Whether ``record`` is the successful CREATE event of the test set ``target``."""
    event = record.event
    return (
        event.action == Action.CREATE
        and event.outcome == Outcome.SUCCESS
        and event.target == target
        and event.detail_map().get("kind") == TEST_SET_KIND
    )


def _pipeline_actor() -> Actor:
    from samdops.governance.service import PIPELINE_ACTOR

    return Actor(PIPELINE_ACTOR, AuthMethod.SERVICE_ACCOUNT_TOKEN)


def _test_set_key(digest: str) -> str:
    return f"registry/test-sets/{parse_digest(digest).split(':', 1)[1]}.json"
