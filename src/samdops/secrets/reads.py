"""Which secrets were read, by whom, under which Vault request id: for the audit trail.

The secrets layer does not write audit events (it sits below the audit log); it reports reads.
Each read from Vault is a :class:`SecretRead` (path, component, the response's ``request_id``;
never a value). The read's values expose it (:attr:`SecretValues.read`), and every read made
inside :func:`recording` is collected, so the code that holds the audit log can append one
``secret_read`` event per read::

    with recording() as reads:
        state = open_state("s3://bucket/state")  # reads samdops/s3 from Vault
    for read in reads.take():
        log.append(secret_read(read.component, read.path, source=..., vault_request_id=...))

A recording covers the current thread (and tasks of its context); threads started inside it
record nothing into it. Reads from the environment (:class:`~samdops.secrets.env.EnvSecrets`)
have no request id and are not recorded.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from samdops.secrets.base import Secret


@dataclass(frozen=True)
class SecretRead:
    """One read of the secret at ``path`` by ``component`` (its Vault role, e.g.
    ``samdops-train``); ``request_id`` is the ``request.id`` of Vault's audit entry for it, whose
    ``request.path`` is ``vault_path`` (KV v2: ``samdops/data/s3`` for ``samdops/s3``)."""

    path: str
    vault_path: str
    component: str
    request_id: str
    backend: str  # where it was read, e.g. "Vault at https://vault:8200"


class SecretValues(Mapping[str, Secret]):
    """The keys of one secret, read-only, and the :class:`SecretRead` that fetched them."""

    __slots__ = ("_values", "read")

    def __init__(self, values: Mapping[str, Secret], read: SecretRead | None = None) -> None:
        self._values = dict(values)
        self.read = read

    def __getitem__(self, key: str) -> Secret:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"SecretValues(keys={sorted(self._values)}, read={self.read!r})"


class ReadJournal:
    """The reads collected by one :func:`recording`, in order; thread-safe."""

    def __init__(self) -> None:
        self._reads: list[SecretRead] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ReadJournal({len(self._reads)} pending)"

    def add(self, read: SecretRead) -> None:
        with self._lock:
            self._reads.append(read)

    def take(self) -> tuple[SecretRead, ...]:
        """The reads not taken yet (each read is handed out once)."""
        with self._lock:
            taken, self._reads = tuple(self._reads), []
        return taken


_ACTIVE: contextvars.ContextVar[tuple[ReadJournal, ...]] = contextvars.ContextVar(
    "samdops_secret_reads", default=()
)


@contextlib.contextmanager
def recording() -> Iterator[ReadJournal]:
    """Collect every secret read made inside the block (nested recordings each get them)."""
    journal = ReadJournal()
    token = _ACTIVE.set((*_ACTIVE.get(), journal))
    try:
        yield journal
    finally:
        _ACTIVE.reset(token)


def report(read: SecretRead) -> None:
    """Called by a backend after each successful read: hand ``read`` to the open recordings."""
    for journal in _ACTIVE.get():
        journal.add(read)
