"""Per-user rate limit and daily quota of model calls, and the input cap, alone and through the sandbox."""

from __future__ import annotations

import pytest

from botkit.config import Settings
from botkit.limits import SECONDS_PER_DAY, UserLimits
from sandbox.chat import Chat
from sandbox.harness import InProcessSandbox
from tests.support import FakeClock
from tests.test_metrics import scrape, value

SLOW = "slow down"
DONE = "that's all for today"


START = 10 * SECONDS_PER_DAY + 3600  # 01:00 UTC


def limits(clock: FakeClock, *, rate: int = 0, quota: int = 0, max_chars: int = 0) -> UserLimits:
    return UserLimits(
        rate_per_minute=rate,
        daily_quota=quota,
        max_input_chars=max_chars,
        rate_notice=SLOW,
        quota_notice=DONE,
        clock=clock,
    )


async def test_no_limits_admit_everything() -> None:
    open_door = UserLimits()

    assert [await open_door.admit("u1") for _ in range(1000)] == [None] * 1000


async def test_the_rate_allows_a_burst_then_one_call_per_refill() -> None:
    clock = FakeClock(START)
    gate = limits(clock, rate=3)

    assert [await gate.admit("u1") for _ in range(4)] == [None, None, None, SLOW]
    assert await gate.admit("u2") is None  # each user has their own bucket
    clock.now += 19  # 3 per minute: one call back every 20 s
    assert await gate.admit("u1") == SLOW
    clock.now += 1
    assert await gate.admit("u1") is None
    assert await gate.admit("u1") == SLOW


async def test_the_daily_quota_resets_at_utc_midnight() -> None:
    clock = FakeClock(START)
    gate = limits(clock, quota=2)

    assert [await gate.admit("u1") for _ in range(3)] == [None, None, DONE]
    clock.now += SECONDS_PER_DAY - 3600 - 1  # 23:59:59 the same day
    assert await gate.admit("u1") == DONE
    clock.now += 1
    assert await gate.admit("u1") is None


async def test_a_refused_call_does_not_use_up_the_quota() -> None:
    clock = FakeClock(START)
    gate = limits(clock, rate=1, quota=2)

    assert [await gate.admit("u1") for _ in range(5)] == [None, SLOW, SLOW, SLOW, SLOW]
    clock.now += 60
    assert [await gate.admit("u1") for _ in range(2)] == [None, DONE]  # the quota is what is reached now


async def test_idle_users_are_forgotten_once_many_are_tracked() -> None:
    clock = FakeClock(START)
    gate = limits(clock, rate=5)
    for number in range(10_000):
        await gate.admit(f"user{number}")
    clock.now += 60

    await gate.admit("one more")

    assert gate.tracked_users == 1


@pytest.mark.parametrize(
    ("text", "clipped"),
    [
        ("short", "short"),
        ("exactly10!", "exactly10!"),
        ("eleven char", "eleven cha\n\n[The message was cut to its first 10 characters.]"),
    ],
)
def test_clip_cuts_long_input_with_a_note(text: str, clipped: str) -> None:
    assert limits(FakeClock(START), max_chars=10).clip(text) == clipped


@pytest.fixture
def botkit_settings(botkit_settings: Settings) -> Settings:
    return botkit_settings.model_copy(
        update={"user_rate_per_minute": 2, "max_input_chars": 12, "rate_limit_reply": SLOW}
    )


async def test_over_the_rate_a_user_gets_the_notice_and_the_model_is_not_asked(
    sandbox: InProcessSandbox, chat: Chat
) -> None:
    replies = [(await chat.send(text)).text for text in ("one", "two", "three")]
    other = await chat.as_user("bob").send("hi")

    assert replies == ["echo: one", "echo: two", SLOW]
    assert other.text == "echo: hi"
    assert sandbox.bot is not None
    scraped = await scrape(sandbox.bot)
    assert value(scraped, "botkit_model_seconds_count", provider="echo", outcome="ok") == 3


async def test_the_model_sees_long_input_cut_to_the_cap(chat: Chat) -> None:
    reply = await chat.send("x" * 50)

    assert reply.text == "echo: " + "x" * 12 + "\n\n[The message was cut to its first 12 characters.]"
