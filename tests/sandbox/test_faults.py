"""Opt-in trouble as rates: slow, dropped, duplicated and reordered callbacks, retry-on-timeout, failing
REST calls; the old on/off inputs still work."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from botkit.callbacks import ACK_BODY
from botkit.config import Settings
from sandbox.faults import Faults, rest_failure
from sandbox.harness import InProcessSandbox
from tests.support import ROBOT

from .conftest import Harness, text_msg

SHORT_TIMEOUT = 0.05
"""For a bot that hangs: its time is real. The fake's own delays run on the harness's clock instead."""


def configure(harness: Harness, **changes: Any) -> None:
    state = harness.backend.state
    state.set_config(state.config.model_copy(update=changes))


async def message_robot(harness: Harness, text: str = "hi", *, drain: bool = True) -> None:
    body = {"From_Account": "alice", "To_Account": ROBOT, "MsgRandom": 1, "MsgBody": text_msg(text)}
    await harness.ok("openim/sendmsg", body)
    if drain:
        await harness.backend.dispatcher.drain()


def texts(harness: Harness) -> list[str]:
    return [body["MsgBody"][0]["MsgContent"]["Text"] for body in harness.recorder.bodies()]


def callback_errors(harness: Harness) -> list[str | None]:
    """Errors of the callback attempts, oldest first."""
    return [entry.error for entry in harness.backend.traffic.list(kind="callback", newest_first=False)]


async def test_a_delay_past_the_timeout_is_a_failed_callback(harness: Harness) -> None:
    harness.backend.faults = Faults(delay_callbacks_seconds=30)
    await message_robot(harness)
    assert callback_errors(harness) == ["timed out after 2 s"]  # Tencent's timeout, on the fake clock
    assert harness.clock.sleeps == [2.0]
    assert harness.backend.traffic.list(kind="callback")[0].status is None
    assert harness.recorder.requests == []


async def test_a_delay_within_the_timeout_is_waited_out_then_sent(harness: Harness) -> None:
    harness.backend.faults = Faults(delay_callbacks_seconds=1.5)
    await message_robot(harness)
    assert callback_errors(harness) == [None]
    assert harness.clock.sleeps == [1.5]
    assert len(harness.recorder.requests) == 1


async def test_retry_on_timeout_tries_again_as_configured(harness: Harness) -> None:
    configure(harness, callback_retries=2)
    harness.backend.faults = Faults(delay_callbacks_seconds=30)
    await message_robot(harness)
    assert callback_errors(harness) == ["timed out after 2 s"] * 3
    assert harness.clock.sleeps == [2.0] * 3


async def test_a_retry_after_a_timeout_can_succeed(harness: Harness) -> None:
    configure(harness, callback_timeout=SHORT_TIMEOUT, callback_retries=3)

    async def hang_once(request: httpx.Request) -> httpx.Response:
        if len(harness.recorder.requests) == 1:
            await asyncio.Event().wait()
        return httpx.Response(200, json=ACK_BODY)

    harness.recorder.reply = hang_once
    await message_robot(harness)
    assert callback_errors(harness) == ["timed out after 0.05 s", None]
    first, second = harness.recorder.bodies()
    assert first == second


async def test_dropped_callbacks_are_logged_but_never_sent(harness: Harness) -> None:
    harness.backend.faults = Faults(drop_rate=1.0)
    await message_robot(harness)
    assert harness.recorder.requests == []
    assert callback_errors(harness) == ["dropped by fault injection"]


async def test_duplicated_callbacks_arrive_twice(harness: Harness) -> None:
    harness.backend.faults = Faults(duplicate_rate=1.0)
    await message_robot(harness)
    first, second = harness.recorder.bodies()
    assert first == second
    assert first["To_Account"] == ROBOT
    assert callback_errors(harness) == [None, None]


@pytest.mark.parametrize("code", [60008, 20004])
async def test_rest_failure_rate_one_fails_every_call_with_the_code(harness: Harness, code: int) -> None:
    harness.backend.faults = Faults(rest_failure_rate=1.0, rest_failure_code=code)
    answer = await harness.rest("im_open_login_svc/account_import", {"UserID": "carol"})
    assert (answer["ActionStatus"], answer["ErrorCode"]) == ("FAIL", code)
    assert not harness.backend.state.account_exists("carol")


async def test_rest_failures_come_after_the_url_checks(harness: Harness) -> None:
    harness.backend.faults = Faults(rest_failure_rate=1.0)
    assert (await harness.rest("openim_robot_http_svc/get_all_robots", {}, usersig="bad"))[
        "ErrorCode"
    ] == 70003


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(("rate", "draw", "fails"), [(0.5, 0.49, True), (0.5, 0.5, False), (0.0, 0.0, False)])
def test_rest_failure_follows_the_random_source(rate: float, draw: float, fails: bool) -> None:
    error = rest_failure(Faults(rest_failure_rate=rate, rest_failure_code=60008), FixedRandom(draw))
    assert (error is not None) == fails
    assert error is None or error.code == 60008


async def test_faults_are_set_through_the_control_api(harness: Harness) -> None:
    wanted = {"delay_callbacks_seconds": 1.5, "drop_rate": 0.5, "reorder_rate": 0.1}
    wanted |= {"rest_failure_rate": 0.25}
    response = await harness.client.put("/sandbox/api/faults", json=wanted)
    assert response.status_code == 200
    current = (await harness.client.get("/sandbox/api/faults")).json()
    assert current == Faults().model_dump() | wanted
    assert harness.backend.faults.drop_rate == 0.5


@pytest.mark.parametrize(
    ("old", "rates"),
    [
        ({"drop_callbacks": True}, {"drop_rate": 1.0}),
        ({"duplicate_callbacks": True, "drop_callbacks": False}, {"duplicate_rate": 1.0, "drop_rate": 0.0}),
    ],
)
async def test_the_old_on_off_inputs_are_rates_of_one_or_zero(
    harness: Harness, old: dict[str, bool], rates: dict[str, float]
) -> None:
    response = await harness.client.put("/sandbox/api/faults", json=old)
    assert response.status_code == 200
    assert response.json() == Faults().model_dump() | rates


@pytest.mark.parametrize(
    "bad",
    [
        {"rest_failure_rate": 2},
        {"drop_rate": -0.1},
        {"delay_callbacks_seconds": -1},
        {"drop_callbacks": "sometimes"},
        {"unknown": 1},
    ],
)
async def test_bad_faults_are_refused(harness: Harness, bad: dict[str, Any]) -> None:
    assert (await harness.client.put("/sandbox/api/faults", json=bad)).status_code == 422
    assert harness.backend.faults == Faults()


async def test_with_a_seed_rest_failures_and_duplicates_come_at_their_rates(harness: Harness) -> None:
    harness.backend.faults = Faults(rest_failure_rate=0.2, duplicate_rate=0.1)
    calls = 300
    answers = [await harness.rest("openim/sendmsg", sendmsg(n)) for n in range(calls)]
    await harness.backend.dispatcher.drain()
    failed = sum(answer["ErrorCode"] == 60008 for answer in answers)
    sent = calls - failed
    duplicated = len(harness.recorder.requests) - sent
    assert abs(failed / calls - 0.2) < 0.05, failed
    assert abs(duplicated / sent - 0.1) < 0.05, duplicated
    assert len(set(texts(harness))) == sent


def sendmsg(n: int) -> dict[str, Any]:
    return {"From_Account": "alice", "To_Account": ROBOT, "MsgRandom": n, "MsgBody": text_msg(f"m{n}")}


def test_the_same_seed_gives_the_same_faults() -> None:
    def draws(seed: int) -> list[bool]:
        rng = random.Random(seed)
        faults = Faults(rest_failure_rate=0.2)
        return [rest_failure(faults, rng) is not None for _ in range(100)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)


@pytest.mark.parametrize(("rate", "dropped"), [(0.0, 0), (1.0, 4)])
async def test_drop_rates_zero_and_one_are_never_and_always(
    harness: Harness, rate: float, dropped: int
) -> None:
    harness.backend.faults = Faults(drop_rate=rate)
    for n in range(4):
        await message_robot(harness, f"m{n}")
    assert callback_errors(harness).count("dropped by fault injection") == dropped


async def test_a_delay_rate_of_zero_delays_nothing(harness: Harness) -> None:
    harness.backend.faults = Faults(delay_callbacks_seconds=30, delay_rate=0.0)
    await message_robot(harness)
    assert callback_errors(harness) == [None]
    assert harness.clock.sleeps == []


async def test_a_reordered_callback_is_overtaken_by_the_next(harness: Harness) -> None:
    harness.backend.faults = Faults(reorder_rate=1.0)
    await message_robot(harness, "first", drain=False)
    harness.backend.faults = Faults()
    await message_robot(harness, "second")
    assert texts(harness) == ["second", "first"]


async def test_a_reordered_callback_with_nothing_behind_it_still_goes(harness: Harness) -> None:
    harness.backend.faults = Faults(reorder_rate=1.0)
    await message_robot(harness, "only")
    assert texts(harness) == ["only"]


def test_a_local_sandbox_draws_its_faults_from_the_random_source_given(botkit_settings: Settings) -> None:
    rng = random.Random(7)
    local = InProcessSandbox(botkit_settings, rng=rng)
    try:
        assert local.backend.rng is rng
    finally:
        local.close()
