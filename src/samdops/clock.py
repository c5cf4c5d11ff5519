"""UTC time as samdops writes it: one format for audit entries, checkpoints and lineage."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_timestamp(at: datetime | None = None, *, compact: bool = False) -> str:
    """RFC 3339 UTC with milliseconds, e.g. ``2026-12-02T12:25:30.123Z``; ``compact`` leaves out
    the separators, for names (``20261202T122530123Z``)."""
    moment = (at or utc_now()).astimezone(UTC)
    fmt = "%Y%m%dT%H%M%S" if compact else "%Y-%m-%dT%H:%M:%S."
    return moment.strftime(fmt) + f"{moment.microsecond // 1000:03d}Z"


def object_lock_date(at: datetime) -> str:
    """An S3 Object Lock retain-until date (whole seconds, UTC)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
