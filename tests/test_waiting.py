"""Polling with a deadline: the first answer, a timeout that says what never happened, a fast failure."""

from __future__ import annotations

import asyncio

import pytest

from botkit.lab.waiting import await_until, wait_until


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def answers(*values: object) -> list[object]:
    return list(values)


def test_wait_until_returns_the_first_answer_that_is_not_none_or_false() -> None:
    time = FakeTime()
    queue = answers(None, False, 0, "late")

    found = wait_until(queue.pop, timeout=10, failure="never", clock=time, sleep=time.sleep)

    assert found == "late"  # popped from the end: "late" first
    assert time.sleeps == 0


def test_wait_until_asks_until_the_deadline_then_says_what_did_not_happen() -> None:
    time = FakeTime()

    with pytest.raises(TimeoutError, match=r"^the bot did not answer within 1 s; see above$"):
        wait_until(
            lambda: None,
            timeout=1,
            failure="the bot did not answer",
            interval=0.25,
            explain=lambda: "; see above",
            clock=time,
            sleep=time.sleep,
        )
    assert time.sleeps == 4  # asked at 0, 0.25, 0.5, 0.75 and 1 s


def test_wait_until_fails_at_once_when_the_check_raises() -> None:
    def died() -> None:
        raise RuntimeError("the child exited")

    with pytest.raises(RuntimeError, match="the child exited"):
        wait_until(lambda: None, timeout=60, failure="never", check=died)


async def test_await_until_returns_the_first_answer() -> None:
    time = FakeTime()
    queue = answers("found", None, None)

    async def probe() -> object:
        return queue.pop()

    assert await await_until(probe, timeout=5, failure="never", clock=time, sleep=time.async_sleep) == "found"
    assert time.sleeps == 2


async def test_await_until_times_out_on_its_clock() -> None:
    time = FakeTime()

    async def nothing() -> None:
        return None

    with pytest.raises(TimeoutError, match=r"^no reply within 2 s$"):
        await await_until(
            nothing, timeout=2, failure="no reply", interval=0.5, clock=time, sleep=time.async_sleep
        )


async def test_await_until_cuts_off_a_probe_that_hangs() -> None:
    async def hangs() -> None:
        await asyncio.Event().wait()

    with pytest.raises(TimeoutError, match=r"^no reply within 0.05 s: it hung$"):
        await await_until(hangs, timeout=0.05, failure="no reply", explain=lambda: ": it hung")


async def test_a_timeout_raised_by_the_probe_itself_is_not_taken_for_the_deadline() -> None:
    async def fails() -> None:
        raise TimeoutError("the probe's own")

    with pytest.raises(TimeoutError, match="the probe's own"):
        await await_until(fails, timeout=30, failure="never")
