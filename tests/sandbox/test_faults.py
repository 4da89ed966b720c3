"""Opt-in trouble: slow, dropped and duplicated callbacks, retry-on-timeout, failing REST calls."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from sandbox.faults import Faults, rest_failure

from .conftest import ROBOT, Harness, text_msg

SHORT_TIMEOUT = 0.05


def configure(harness: Harness, **changes: Any) -> None:
    state = harness.sandbox.state
    state.set_config(state.config.model_copy(update=changes))


async def message_robot(harness: Harness) -> None:
    body = {"From_Account": "alice", "To_Account": ROBOT, "MsgRandom": 1, "MsgBody": text_msg("hi")}
    await harness.ok("openim/sendmsg", body)
    await harness.sandbox.dispatcher.drain()


def callback_errors(harness: Harness) -> list[str | None]:
    """Errors of the callback attempts, oldest first."""
    return [entry.error for entry in harness.sandbox.traffic.list(kind="callback", newest_first=False)]


async def test_a_delay_past_the_timeout_is_a_failed_callback(harness: Harness) -> None:
    configure(harness, callback_timeout=SHORT_TIMEOUT)
    harness.sandbox.faults = Faults(delay_callbacks_seconds=30)
    await message_robot(harness)
    assert callback_errors(harness) == ["timed out after 0.05 s"]
    assert harness.sandbox.traffic.list(kind="callback")[0].status is None
    assert harness.recorder.requests == []


async def test_retry_on_timeout_tries_again_as_configured(harness: Harness) -> None:
    configure(harness, callback_timeout=SHORT_TIMEOUT, callback_retries=2)
    harness.sandbox.faults = Faults(delay_callbacks_seconds=30)
    await message_robot(harness)
    assert callback_errors(harness) == ["timed out after 0.05 s"] * 3


async def test_a_retry_after_a_timeout_can_succeed(harness: Harness) -> None:
    configure(harness, callback_timeout=SHORT_TIMEOUT, callback_retries=3)

    async def hang_once(request: httpx.Request) -> httpx.Response:
        if len(harness.recorder.requests) == 1:
            await asyncio.Event().wait()
        return httpx.Response(200, json={"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})

    harness.recorder.reply = hang_once
    await message_robot(harness)
    assert callback_errors(harness) == ["timed out after 0.05 s", None]
    first, second = harness.recorder.bodies()
    assert first == second


async def test_dropped_callbacks_are_logged_but_never_sent(harness: Harness) -> None:
    harness.sandbox.faults = Faults(drop_callbacks=True)
    await message_robot(harness)
    assert harness.recorder.requests == []
    assert callback_errors(harness) == ["dropped by fault injection"]


async def test_duplicated_callbacks_arrive_twice(harness: Harness) -> None:
    harness.sandbox.faults = Faults(duplicate_callbacks=True)
    await message_robot(harness)
    first, second = harness.recorder.bodies()
    assert first == second
    assert first["To_Account"] == ROBOT
    assert callback_errors(harness) == [None, None]


@pytest.mark.parametrize("code", [60008, 20004])
async def test_rest_failure_rate_one_fails_every_call_with_the_code(harness: Harness, code: int) -> None:
    harness.sandbox.faults = Faults(rest_failure_rate=1.0, rest_failure_code=code)
    answer = await harness.rest("im_open_login_svc/account_import", {"UserID": "carol"})
    assert (answer["ActionStatus"], answer["ErrorCode"]) == ("FAIL", code)
    assert not harness.sandbox.state.account_exists("carol")


async def test_rest_failures_come_after_the_url_checks(harness: Harness) -> None:
    harness.sandbox.faults = Faults(rest_failure_rate=1.0)
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
    wanted = {"delay_callbacks_seconds": 1.5, "drop_callbacks": True, "rest_failure_rate": 0.25}
    response = await harness.client.put("/sandbox/api/faults", json=wanted)
    assert response.status_code == 200
    current = (await harness.client.get("/sandbox/api/faults")).json()
    assert current == Faults().model_dump() | wanted
    assert harness.sandbox.faults.drop_callbacks


@pytest.mark.parametrize("bad", [{"rest_failure_rate": 2}, {"delay_callbacks_seconds": -1}, {"unknown": 1}])
async def test_bad_faults_are_refused(harness: Harness, bad: dict[str, Any]) -> None:
    assert (await harness.client.put("/sandbox/api/faults", json=bad)).status_code == 422
    assert harness.sandbox.faults == Faults()
