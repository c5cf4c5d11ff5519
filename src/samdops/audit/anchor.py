"""Anchors: copies of the audit log's signed checkpoints held outside the state location.

A checkpoint stored beside the log proves nothing against whoever can delete files there or
holds the signing key: they can delete the head of the log with its latest checkpoints (a
rollback), or rewrite the whole log and re-sign it. ``samdops audit verify`` therefore also
checks every checkpoint an anchor holds (step 7 of :mod:`samdops.audit.verify`):

- the **witness** (``$SAMDOPS_AUDIT_WITNESS``, a directory or ``s3://BUCKET/PREFIX`` outside the
  state): :class:`Witness` is an :class:`~samdops.audit.siem.EventSink` that writes each signed
  checkpoint once, as ``checkpoints/<size>.note``; give samdops the right to add there, never to
  delete or overwrite;
- the **SIEM stream**: each ``ocsf+file://`` destination of ``$SAMDOPS_SIEM`` is read back
  (syslog destinations are write-only: they can be compared only inside the SIEM);
- the **S3 WORM copy**: on an S3 state with Object Lock retention, every checkpoint ever written
  under ``audit/checkpoints/`` keeps its locked first version, also after a delete (which only
  adds a delete marker).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from samdops import settings
from samdops.audit.checkpoint import Checkpoint
from samdops.audit.entry import AuditRecord
from samdops.audit.siem import EventSink, OcsfFileSink, sink_from_url
from samdops.audit.store import DocumentEntryStore, EntryStore
from samdops.audit.verify import AnchorCopy, build_tree, compare_anchor, load_checkpoints
from samdops.errors import AuditError, CheckpointInvalid, ConfigError, SamdopsError, StoreError
from samdops.store.documents import DocumentStore, LocalDocuments
from samdops.store.s3_documents import S3Documents
from samdops.store.state import StateLocation, open_state

NO_ANCHOR = (
    "set SAMDOPS_AUDIT_WITNESS, an ocsf+file:// SIEM destination or an S3 state with Object "
    "Lock retention"
)


class Anchor(Protocol):
    """Somewhere outside the state that holds the log's signed checkpoints."""

    name: str

    def read(self) -> AnchorCopy:
        """Every checkpoint it holds; raise :class:`~samdops.errors.SamdopsError` if unreadable."""
        ...


@dataclass(frozen=True)
class Anchors:
    """The configured anchors, and the SIEM destinations verify cannot read back."""

    readable: tuple[Anchor, ...]
    write_only: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnchorStatus:
    """One anchor as ``samdops doctor`` reports it: reachable, and agreeing with the log."""

    anchor: str
    reachable: bool
    ok: bool
    size: int | None  # the latest checkpoint of this log it holds
    detail: str


class Witness:
    """The write-once witness at ``location``: a sink for new checkpoints, and an anchor."""

    def __init__(self, location: str, documents: DocumentStore | None = None) -> None:
        scheme = urlsplit(location).scheme
        if scheme not in ("", "file", "s3"):
            raise ConfigError(
                f"{settings.AUDIT_WITNESS_ENV} has scheme {scheme[:10]!r}; give a directory or "
                "s3://BUCKET/PREFIX"
            )
        self.location = location
        self.name = f"witness {location}"
        self._documents = documents

    def __repr__(self) -> str:
        return f"Witness({self.location!r})"

    @property
    def store(self) -> DocumentEntryStore:
        """The witness as checkpoints of an entry store (opened on first use)."""
        if self._documents is None:
            if self.location.startswith("s3://"):
                self._documents = open_state(self.location).documents
            else:
                root = Path(self.location.removeprefix("file://")).expanduser().resolve()
                self._documents = LocalDocuments(root, what="witness checkpoint")
        return DocumentEntryStore(self._documents, prefix="")

    def emit(self, record: AuditRecord) -> None:
        """Entries are not witnessed; the checkpoint that covers them is."""

    def emit_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Write ``checkpoint`` once; raise if the witness holds another root at its size."""
        store = self.store
        if store.put_checkpoint(checkpoint.size, checkpoint.to_note().encode()):
            return
        held = store.read_checkpoint(checkpoint.size) or b""
        if Checkpoint.from_note(held.decode("utf-8", "replace")).root != checkpoint.root:
            raise AuditError(
                f"the {self.name} already holds another checkpoint at size {checkpoint.size}: "
                "the log was rolled back or forked; run `samdops audit verify`"
            )

    def read(self) -> AnchorCopy:
        return AnchorCopy(self.name, _load(self.name, self.store))


class SiemFile:
    """An ``ocsf+file://`` SIEM destination, read back."""

    def __init__(self, sink: OcsfFileSink) -> None:
        self.sink = sink
        self.name = f"SIEM file {sink.path}"

    def read(self) -> AnchorCopy:
        return AnchorCopy(self.name, tuple(self.sink.checkpoints()), shared=True)


class WormCopy:
    """The audit checkpoints of an S3 state with Object Lock, deleted ones included."""

    def __init__(self, documents: S3Documents, prefix: str = "audit") -> None:
        self.documents = documents
        self.prefix = prefix
        self.name = f"S3 WORM copy {'/'.join(filter(None, (documents.location, prefix)))}"

    def read(self) -> AnchorCopy:
        store = DocumentEntryStore(_EveryVersion(self.documents), self.prefix)
        return AnchorCopy(self.name, _load(self.name, store))


class _EveryVersion:
    """S3 documents as first written, listing also the keys whose latest version is deleted."""

    def __init__(self, documents: S3Documents) -> None:
        self.documents = documents
        self.location = documents.location

    def create(self, key: str, data: bytes) -> bool:
        raise AuditError(f"the WORM copy {self.location} is read here, never written")

    def read(self, key: str) -> bytes | None:
        return self.documents.read(key)  # the oldest version, behind any delete marker

    def names(self, prefix: str) -> list[str]:
        from minio.error import S3Error
        from urllib3.exceptions import HTTPError  # not imported where no S3 state is used

        base = self.documents.key(prefix) + "/"
        client, bucket = self.documents.client, self.documents.bucket
        try:
            listed = list(client.list_objects(bucket, prefix=base, include_version=True))
        except S3Error as exc:
            raise StoreError(f"cannot list the versions in {self.location}: {exc.code}") from None
        except (OSError, HTTPError) as exc:
            raise StoreError(f"cannot list the versions in {self.location}: {exc}") from None
        return sorted({o.object_name[len(base) :] for o in listed if not o.is_dir})


def _load(name: str, store: EntryStore) -> tuple[Checkpoint, ...]:
    try:
        return tuple(load_checkpoints(store))
    except CheckpointInvalid as exc:
        raise CheckpointInvalid(f"{exc} (in the {name})") from None


def anchor_sinks() -> list[EventSink]:
    """The sinks that write new checkpoints to an anchor: the witness, when configured."""
    witness = settings.audit_witness()
    return [Witness(witness)] if witness else []


def configured_anchors(state: StateLocation | None = None) -> Anchors:
    """The anchors the settings configure for the log at ``state``.

    A witness inside the state location or the samdops home is refused: it would be deleted
    with what it must witness.
    """
    readable: list[Anchor] = []
    write_only: list[str] = []
    roots = [str(settings.samdops_home()), *([state.location] if state else [])]
    witness = settings.audit_witness()
    if witness:
        if inside := _inside(witness, roots):
            raise ConfigError(
                f"{settings.AUDIT_WITNESS_ENV} lies inside {inside}; the witness must be held "
                "outside the state location and the samdops home"
            )
        readable.append(Witness(witness))
    for url in settings.siem_destinations():
        sink = sink_from_url(url)
        if not isinstance(sink, OcsfFileSink):
            write_only.append(repr(sink))
        elif _inside(str(sink.path), roots):
            write_only.append(f"{sink!r} (inside the state, not an anchor)")
        else:
            readable.append(SiemFile(sink))
    documents = state.documents if state else None
    if isinstance(documents, S3Documents) and documents.retention_days:
        readable.append(WormCopy(documents))
    return Anchors(tuple(readable), tuple(write_only))


def _inside(location: str, roots: Sequence[str]) -> str | None:
    """The root that holds ``location``, if any."""
    for root in roots:
        if location.startswith("s3://") or root.startswith("s3://"):
            held = location.rstrip("/") == root.rstrip("/") or location.startswith(
                root.rstrip("/") + "/"
            )
        else:
            path = Path(location.removeprefix("file://")).expanduser().resolve()
            held = path == Path(root) or Path(root) in path.parents
        if held:
            return root
    return None


def read_anchors(anchors: Sequence[Anchor]) -> list[AnchorCopy]:
    """Every anchor's checkpoints; an unreachable anchor raises, naming it (fail closed)."""
    copies = []
    for anchor in anchors:
        try:
            copies.append(anchor.read())
        except (CheckpointInvalid, ConfigError):
            raise
        except SamdopsError as exc:
            raise AuditError(
                f"the {anchor.name} is unreachable ({exc}); a rollback cannot be ruled out "
                "without it: make it reachable or remove it from the settings"
            ) from None
    return copies


def anchor_status(
    store: EntryStore,
    public_key_pem: bytes,
    anchors: Sequence[Anchor],
    *,
    origin: str = "samdops-audit",
) -> list[AnchorStatus]:
    """Per anchor: whether it is reachable and how its checkpoints compare with the log."""
    try:
        tree = build_tree(store)
    except SamdopsError as exc:
        return [
            AnchorStatus(a.name, False, False, None, f"the log is unreadable: {exc}")
            for a in anchors
        ]
    result = []
    for anchor in anchors:
        try:
            copy = anchor.read()
        except CheckpointInvalid as exc:  # reachable, but what it holds is bad
            result.append(AnchorStatus(anchor.name, True, False, None, str(exc)))
            continue
        except SamdopsError as exc:
            result.append(AnchorStatus(anchor.name, False, False, None, str(exc)))
            continue
        try:
            match = compare_anchor(tree, copy, public_key_pem, origin)
        except SamdopsError as exc:
            result.append(AnchorStatus(anchor.name, True, False, None, str(exc)))
            continue
        result.append(
            AnchorStatus(anchor.name, True, True, match.size, describe(match.size, len(tree)))
        )
    return result


def describe(size: int | None, log_size: int) -> str:
    """How an anchor that agrees with the log covers it, in one line."""
    if size is None:
        return "holds no checkpoint of this log yet"
    behind = log_size - size
    tail = {0: "", 1: "; the entry after it is not anchored"}.get(
        behind, f"; the {behind} entries after it are not anchored"
    )
    return f"checkpoint at size {size} matches the log{tail}"
