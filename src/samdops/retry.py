"""Bounded retries of transient failures (network errors, 5xx), in the manner of stamina.

Only errors that a ``transient`` predicate accepts are retried; anything else propagates at once.
Retries stop at ``attempts`` calls or ``timeout`` seconds, whichever comes first, and then
:class:`GaveUp` carries the last error. Waits grow exponentially with jitter. Tests switch waiting
off with :func:`set_waiting` or :func:`waiting_disabled`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

_T = TypeVar("_T")
_log = logging.getLogger(__name__)

_state = threading.local()
_waiting_default = True


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. ``attempts`` counts the first call."""

    attempts: int = 5
    timeout: float = 30.0
    initial_wait: float = 0.2
    max_wait: float = 5.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1; got {self.attempts}")
        if self.timeout <= 0 or self.initial_wait < 0 or self.max_wait < self.initial_wait:
            raise ValueError("timeout must be > 0 and 0 <= initial_wait <= max_wait")

    def wait(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based), jitter included."""
        base: float = min(self.max_wait, self.initial_wait * 2.0 ** (retry_number - 1))
        return base * (1 + random.uniform(0, self.jitter))


DEFAULT_POLICY = RetryPolicy()


class GaveUp(Exception):
    """Transient failures went on past the policy's limits. ``last`` is the final error."""

    def __init__(self, what: str, attempts: int, elapsed: float, last: BaseException) -> None:
        super().__init__(
            f"{what}: gave up after {attempts} attempt(s) in {elapsed:.1f} s "
            f"({type(last).__name__})"
        )
        self.what = what
        self.attempts = attempts
        self.elapsed = elapsed
        self.last = last


def set_waiting(enabled: bool) -> None:
    """Switch waiting between retries on or off for the whole process (tests switch it off)."""
    global _waiting_default
    _waiting_default = enabled


@contextmanager
def waiting_disabled() -> Iterator[None]:
    """Within the block, retries in this thread happen without waiting."""
    previous = getattr(_state, "waiting", None)
    _state.waiting = False
    try:
        yield
    finally:
        _state.waiting = previous


def _waiting() -> bool:
    local = getattr(_state, "waiting", None)
    return _waiting_default if local is None else bool(local)


def retry_call(
    fn: Callable[[], _T],
    *,
    transient: Callable[[BaseException], bool],
    what: str,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> _T:
    """Call ``fn`` until it returns, retrying errors that ``transient`` accepts.

    Raises the first non-transient error unchanged, or :class:`GaveUp` once the attempts or the
    time budget are used up. ``what`` names the operation in logs and in :class:`GaveUp`; it must
    not contain secrets. Only the type of a failed attempt's error is logged, never its message.
    ``sleep`` and ``clock`` are injectable for tests.
    """
    start = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:
            if not transient(exc):
                raise
            elapsed = clock() - start
            delay = policy.wait(attempt) if _waiting() else 0.0
            if attempt >= policy.attempts or elapsed + delay > policy.timeout:
                raise GaveUp(what, attempt, elapsed, exc) from exc
            _log.warning(
                "%s failed with %s; retry %d of %d in %.2f s",
                what,
                type(exc).__name__,
                attempt,
                policy.attempts - 1,
                delay,
            )
            if delay:
                sleep(delay)
