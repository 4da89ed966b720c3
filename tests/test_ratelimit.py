"""RateLimiter: GCRA slots per key on an injected clock, so no test waits for real."""

from __future__ import annotations

import pytest

from botkit.ratelimit import RateLimiter
from tests.support import FakeClock


def frozen_clock() -> FakeClock:
    """Time stands still unless a test moves it; sleeps are recorded, not waited."""
    return FakeClock(100.0, frozen=True)


def test_calls_at_one_instant_get_slots_one_interval_apart() -> None:
    clock = frozen_clock()
    limiter = RateLimiter(200, clock=clock)

    waits = [limiter.delay("openim/sendmsg") for _ in range(5)]

    assert waits == pytest.approx([0.0, 0.005, 0.010, 0.015, 0.020])


def test_each_key_has_its_own_schedule() -> None:
    limiter = RateLimiter(10, clock=frozen_clock())

    sends = [limiter.delay("openim/sendmsg") for _ in range(3)]
    groups = [limiter.delay("group_open_http_svc/send_group_msg") for _ in range(3)]

    assert sends == groups == pytest.approx([0.0, 0.1, 0.2])


def test_a_quiet_spell_leaves_no_debt_and_earns_no_extra_burst() -> None:
    clock = frozen_clock()
    limiter = RateLimiter(10, clock=clock)
    for _ in range(3):
        limiter.delay("k")

    clock.now += 60.0
    waits = [limiter.delay("k") for _ in range(3)]

    assert waits == pytest.approx([0.0, 0.1, 0.2])


def test_calls_arriving_at_the_rate_never_wait() -> None:
    clock = frozen_clock()
    limiter = RateLimiter(10, clock=clock)
    waits = []
    for _ in range(5):
        waits.append(limiter.delay("k"))
        clock.now += 0.1

    assert waits == [0.0] * 5


def test_rate_zero_never_waits() -> None:
    limiter = RateLimiter(0, clock=frozen_clock())

    assert [limiter.delay("k") for _ in range(1000)] == [0.0] * 1000


async def test_acquire_sleeps_through_the_injected_sleep_only_when_needed() -> None:
    clock = frozen_clock()
    limiter = RateLimiter(4, clock=clock, sleep=clock.sleep)

    for _ in range(3):
        await limiter.acquire("k")

    assert clock.sleeps == pytest.approx([0.25, 0.5])


def test_a_negative_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(-1.0)


def test_try_acquire_takes_a_free_slot_and_never_queues() -> None:
    clock = FakeClock(100.0)
    limiter = RateLimiter(10, clock=clock)

    assert limiter.try_acquire("openim/sendmsg")
    assert not limiter.try_acquire("openim/sendmsg")  # the next slot is 0.1 s away: skipped
    assert limiter.delay("openim/sendmsg") == pytest.approx(0.1)  # nothing was reserved by the skip
    clock.advance(0.25)
    assert limiter.try_acquire("openim/sendmsg")
    assert RateLimiter(0, clock=clock).try_acquire("x")
