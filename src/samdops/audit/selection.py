"""Which audit events a reader asked for: kind, actor, target prefix, time range and run (AT-02).

A :class:`Selection` is parsed from what a person typed (:meth:`Selection.parse`, one clear
:class:`ConfigError` per bad value), matches events (:meth:`Selection.matches`) and is recorded
as the string filters of the reader's ``query`` event (:meth:`Selection.filters`), from which
:meth:`Selection.from_filters` rebuilds it when an export is verified offline.

An event is *in a run* when its source is that pipeline run, when its details name ``run`` as
that id (step events), or when it is the run's launch statement (target ``run:<run>``, see
:func:`samdops.governance.launch.launch_target`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from samdops.audit.event import AuditEvent, EventKind, SourceKind
from samdops.errors import ConfigError

_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)
_EXAMPLE = "2026-01-31T12:00:00Z"
_MAX_TEXT = 4096
RUN_TARGET_PREFIX = "run:"  # the launch statement's target (governance.launch.launch_target)


def parse_time(flag: str, text: str) -> datetime:
    """``text`` as an aware UTC datetime; a :class:`ConfigError` naming ``flag`` otherwise."""
    match = _RFC3339.match(text.strip())
    moment = None
    if match:
        date, clock, fraction, zone = match.groups()
        micro = (fraction or "0")[:6].ljust(6, "0")
        zone = "+00:00" if zone in "Zz" else zone
        try:
            moment = datetime.fromisoformat(f"{date}T{clock}.{micro}{zone}")
        except ValueError:
            moment = None
    if moment is None:
        raise ConfigError(f"{flag} {text!r} is not an RFC 3339 time; give e.g. {_EXAMPLE}")
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """The audit log's own time format: UTC with milliseconds, like 2026-01-31T12:00:00.000Z."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _word(flag: str, value: str | None, example: str) -> str | None:
    if value is None:
        return None
    if not value.strip() or not value.isprintable() or len(value) > _MAX_TEXT:
        raise ConfigError(f"{flag} must be one line of printable text, e.g. {example}")
    return value


@dataclass(frozen=True)
class Selection:
    """The events a reader asked for; every field left empty selects everything."""

    kinds: frozenset[EventKind] = frozenset()
    actor: str | None = None
    target: str | None = None  # a prefix of "id@version"
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # inclusive
    run: str | None = None

    @classmethod
    def parse(
        cls,
        *,
        kinds: Iterable[str] = (),
        actor: str | None = None,
        target: str | None = None,
        since: str | None = None,
        until: str | None = None,
        run: str | None = None,
    ) -> Selection:
        """A selection from command-line text; one :class:`ConfigError` per bad value."""
        chosen = set()
        for kind in kinds:
            if kind not in EventKind._value2member_map_:
                allowed = ", ".join(k.value for k in EventKind)
                raise ConfigError(f"--kind {kind!r} is not a kind of event; use one of {allowed}")
            chosen.add(EventKind(kind))
        start = None if since is None else parse_time("--since", since)
        end = None if until is None else parse_time("--until", until)
        if start is not None and end is not None and start > end:
            raise ConfigError(
                f"--since {format_time(start)} is after --until {format_time(end)}; "
                "swap them to select a time range"
            )
        return cls(
            kinds=frozenset(chosen),
            actor=_word("--actor", actor, "alice or os:carol"),
            target=_word("--target", target, "dataset/ or model/pima"),
            since=start,
            until=end,
            run=_word("--run", run, "samdops-train-20260131-120000"),
        )

    @property
    def everything(self) -> bool:
        """True when nothing narrows the selection (the whole log)."""
        return not self.filters()

    def matches(self, event: AuditEvent) -> bool:
        """Whether ``event`` is selected."""
        if self.kinds and event.kind not in self.kinds:
            return False
        if self.actor is not None and event.actor.id != self.actor:
            return False
        if self.target is not None and not str(event.target).startswith(self.target):
            return False
        if self.since is not None or self.until is not None:
            moment = datetime.fromisoformat(event.time)
            if self.since is not None and moment < self.since:
                return False
            if self.until is not None and moment > self.until:
                return False
        return self.run is None or in_run(event, self.run)

    def filters(self) -> dict[str, str]:
        """The selection as the string filters a ``query`` event records (empty: everything)."""
        found = {
            "kind": ",".join(sorted(k.value for k in self.kinds)),
            "actor": self.actor or "",
            "target": self.target or "",
            "since": format_time(self.since) if self.since else "",
            "until": format_time(self.until) if self.until else "",
            "run": self.run or "",
        }
        return {k: v for k, v in found.items() if v}

    def describe(self) -> str:
        """One line for a report header: ``kind=execution run=r1``, or ``all entries``."""
        filters = self.filters()
        return " ".join(f"{k}={v}" for k, v in filters.items()) if filters else "all entries"

    @classmethod
    def from_filters(cls, filters: Mapping[str, str]) -> Selection:
        """The selection that :meth:`filters` recorded (raises :class:`ConfigError` if bad)."""
        unknown = sorted(set(filters) - {"kind", "actor", "target", "since", "until", "run"})
        if unknown:
            raise ConfigError(f"unknown audit filter(s) {', '.join(unknown)}")
        kinds = filters.get("kind", "")
        return cls.parse(
            kinds=kinds.split(",") if kinds else (),
            actor=filters.get("actor"),
            target=filters.get("target"),
            since=filters.get("since"),
            until=filters.get("until"),
            run=filters.get("run"),
        )


def in_run(event: AuditEvent, run: str) -> bool:
    """Whether ``event`` belongs to pipeline run ``run``."""
    if event.source.kind == SourceKind.PIPELINE_RUN and event.source.ref == run:
        return True
    return event.detail_map().get("run") == run or event.target.id == RUN_TARGET_PREFIX + run
