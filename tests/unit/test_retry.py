"""Bounded retries: only transient errors, capped attempts and time, waiting switchable."""

from __future__ import annotations

import pytest

from samdops import retry
from samdops.retry import GaveUp, RetryPolicy, retry_call


class Flaky:
    def __init__(self, failures: list[BaseException], result: str = "ok") -> None:
        self.failures = failures
        self.calls = 0
        self.result = result

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result


def transient(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionError)


def test_transient_errors_are_retried_until_success() -> None:
    sleeps: list[float] = []
    fn = Flaky([ConnectionError(), ConnectionError()])
    policy = RetryPolicy(attempts=5, initial_wait=0.1, max_wait=0.3, jitter=0)
    assert (
        retry_call(fn, transient=transient, what="op", policy=policy, sleep=sleeps.append) == "ok"
    )
    assert fn.calls == 3
    assert sleeps == [0.1, 0.2]


def test_other_errors_are_not_retried() -> None:
    fn = Flaky([ValueError("bad input")])
    with pytest.raises(ValueError, match="bad input"):
        retry_call(fn, transient=transient, what="op", sleep=lambda s: None)
    assert fn.calls == 1


def test_attempts_are_capped() -> None:
    fn = Flaky([ConnectionError()] * 10)
    with pytest.raises(GaveUp) as info:
        retry_call(
            fn,
            transient=transient,
            what="fetch x",
            policy=RetryPolicy(attempts=3),
            sleep=lambda s: None,
        )
    assert fn.calls == 3
    assert info.value.attempts == 3
    assert isinstance(info.value.last, ConnectionError)
    assert str(info.value).startswith("fetch x: gave up after 3 attempt(s)")


def test_total_time_is_capped() -> None:
    fn = Flaky([ConnectionError()] * 10)
    policy = RetryPolicy(attempts=10, timeout=1.0, initial_wait=0.4, max_wait=5, jitter=0)
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    with pytest.raises(GaveUp):
        retry_call(
            fn, transient=transient, what="op", policy=policy, sleep=sleep, clock=lambda: now[0]
        )
    assert sleeps == [0.4]  # after 0.4 s, the next wait (0.8 s) would pass the 1 s budget
    assert fn.calls == 2


def test_waiting_can_be_switched_off() -> None:
    sleeps: list[float] = []
    with retry.waiting_disabled():
        fn = Flaky([ConnectionError(), ConnectionError()])
        retry_call(fn, transient=transient, what="op", sleep=sleeps.append)
    assert sleeps == []
    assert fn.calls == 3


def test_policy_is_validated() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
