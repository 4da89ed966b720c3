"""A stream open when `botkit serve` is killed with SIGKILL is closed by the restarted process.

The sandbox plays the REST API on a loopback port, a model stand-in streams 20 words a second; the
bot is killed once the user can see part of the answer, and started again. The stream must end (no
open stream left behind), still be the one reply, and end with the text shown and the note.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from botkit.config import Settings
from botkit.lab.processes import free_port
from botkit.restapi import ChatClient
from botkit.restmodels import RoamMessage
from botkit.streamrun import CUT_NOTE
from sandbox.streams import stream_ended, visible_text
from tests.sandbox.conftest import USERS
from tests.sandbox.test_crash_recovery import Bots, bot_env, deliver
from tests.servers import serve_in_thread
from tests.streammodel import streaming_model
from tests.support import KEY, ROBOT, SDKAPPID

ANSWER = " ".join(f"word{n}" for n in range(200))  # ten seconds at 20 words a second
DEADLINE = 60.0


@pytest.fixture
def model_url() -> Iterator[str]:
    with serve_in_thread(streaming_model(ANSWER)) as url:
        yield url + "/v1"


async def robot_replies(api_base: str, user: str) -> list[RoamMessage]:
    settings = Settings(sdkappid=SDKAPPID, key=SecretStr(KEY), api_base=api_base)
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        history = await ChatClient.from_settings(settings, http).admin_getroammsg(user, ROBOT, max_cnt=100)
    return [message for message in history.msg_list if message.from_account == ROBOT]


async def poll(api_base: str, user: str, done: object) -> list[RoamMessage]:
    deadline = time.monotonic() + DEADLINE
    while True:
        replies = await robot_replies(api_base, user)
        if done(replies):  # type: ignore[operator]
            return replies
        assert time.monotonic() < deadline, f"gave up waiting; replies: {replies}"
        await asyncio.sleep(0.1)


def closed(replies: list[RoamMessage]) -> bool:
    """Every reply ended, the last with the note (an edit is never "open", so wait for the note)."""
    ended = all(stream_ended(reply.msg_body) for reply in replies)
    return bool(replies) and ended and visible_text(replies[-1].msg_body).endswith(CUT_NOTE)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["robot", "native", "edit"])
async def test_a_stream_open_at_sigkill_is_closed_after_the_restart(
    rest_api: str, model_url: str, tmp_path: object, mode: str
) -> None:
    env = bot_env(rest_api, model_url, f"sqlite:///{tmp_path}/bot.db")
    bots = Bots(env | {"BOTKIT_STREAM": mode, "BOTKIT_LEASE_SECONDS": "3"})
    port = free_port()
    user = USERS[1]
    try:
        bots.start(port)
        async with httpx.AsyncClient(trust_env=False, timeout=5) as http:
            assert await deliver(http, port, 1) == "m1"
        partial = await poll(rest_api, user, lambda r: len(r) == 1 and len(visible_text(r[0].msg_body)) > 40)
        bots.kill(port)
        before = visible_text((await robot_replies(rest_api, user))[0].msg_body)
        assert before != ANSWER and partial
        bots.start(port)
        [reply] = await poll(rest_api, user, closed)
    finally:
        bots.stop_all()
    shown = visible_text(reply.msg_body)
    assert shown.endswith(f"\n\n{CUT_NOTE}"), shown
    assert shown.startswith(before)
    assert ANSWER.startswith(shown.removesuffix(f"\n\n{CUT_NOTE}"))
