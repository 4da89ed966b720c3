"""Crash recovery across real processes: `botkit serve` killed with SIGKILL while answering.

Tencent plays its part through the test (signed callbacks straight to the bot, which Tencent never
retries) and the sandbox plays the REST API; a model stand-in takes its time, so kills land while
answers are in flight. Every acked message must get exactly one reply, read back through
`admin_getroammsg`, within 30 s of the last restart: after a kill the dead process's leases run out
and the restarted one (or, on Redis, the surviving replica) resumes them; a part resent with the
same MsgRandom is dropped by the sandbox's de-dup exactly as Tencent drops it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from botkit.config import Settings
from botkit.elements import body_text
from botkit.lab.processes import free_port
from botkit.lab.waiting import await_until
from botkit.restapi import ChatClient
from sandbox.botchild import BotChild
from tests.sandbox.conftest import USERS
from tests.servers import serve_in_thread
from tests.support import KEY, ROBOT, SDKAPPID, TOKEN, c2c_body, callback_url

RECOVERY_SECONDS = 30.0
START_SECONDS = 30.0


def slow_model(seed: int) -> Starlette:
    """An OpenAI-compatible model that answers `re: <question>` after 0.2 to 1.5 s."""
    rng = random.Random(seed)

    async def complete(request: Request) -> JSONResponse:
        question = json.loads(await request.body())["messages"][-1]["content"]
        await asyncio.sleep(rng.uniform(0.2, 1.5))
        answer = {"role": "assistant", "content": f"re: {question}"}
        return JSONResponse({"choices": [{"index": 0, "message": answer, "finish_reason": "stop"}]})

    return Starlette(routes=[Route("/v1/chat/completions", complete, methods=["POST"])])


@pytest.fixture
def model_url() -> Iterator[str]:
    with serve_in_thread(slow_model(seed=7)) as url:
        yield url + "/v1"


def bot_env(api_base: str, model_url: str, store: str) -> dict[str, str]:
    return {
        "BOTKIT_SDKAPPID": str(SDKAPPID),
        "BOTKIT_KEY": KEY,
        "BOTKIT_CALLBACK_TOKEN": TOKEN,
        "BOTKIT_API_BASE": api_base,
        "BOTKIT_ROBOTS": ROBOT,
        "BOTKIT_LLM": "openai",
        "BOTKIT_LLM_BASE_URL": model_url,
        "BOTKIT_LLM_API_KEY": "test-model-key",
        "BOTKIT_STORE": store,
        "BOTKIT_LOG_LEVEL": "WARNING",
    }


class Bots:
    """`botkit serve` processes started, killed and restarted on fixed ports; output kept for failures."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.lines: list[str] = []
        self.children: dict[int, BotChild] = {}

    def start(self, port: int) -> BotChild:
        bot = BotChild(self.env, port=port, out=self.lines.append)
        bot.start()
        failure = bot.wait_ready(START_SECONDS)
        assert failure is None, failure + "\n" + "\n".join(self.lines)
        self.children[port] = bot
        return bot

    def kill(self, port: int) -> None:
        bot = self.children.pop(port)
        assert bot.pid is not None
        os.kill(bot.pid, signal.SIGKILL)
        bot.stop()

    def stop_all(self) -> None:
        for bot in self.children.values():
            bot.stop()


@pytest.fixture
def bots(rest_api: str, model_url: str, tmp_path: Path) -> Iterator[Bots]:
    running = Bots(bot_env(rest_api, model_url, f"sqlite:///{tmp_path / 'bot.db'}"))
    try:
        yield running
    finally:
        running.stop_all()


async def deliver(http: httpx.AsyncClient, port: int, seq: int) -> str | None:
    """Post one signed callback as Tencent does, once; the question text when it was acked."""
    question = f"m{seq}"
    body = c2c_body(question, sender=USERS[seq % len(USERS)], seq=seq)
    try:
        response = await http.post(
            f"http://127.0.0.1:{port}" + callback_url("Bot.OnC2CMessage"), content=body
        )
    except httpx.TransportError:
        return None  # not acked: Tencent reports the failure to nobody and does not retry
    return question if response.status_code == 200 else None


async def replies_by_question(api_base: str) -> Counter[str]:
    """How many times each question was answered, read through admin_getroammsg."""
    settings = Settings(sdkappid=SDKAPPID, key=SecretStr(KEY), api_base=api_base)
    counts: Counter[str] = Counter()
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        chat = ChatClient.from_settings(settings, http)
        for user in USERS:
            history = await chat.admin_getroammsg(user, ROBOT, max_cnt=100)  # as the user sees it
            for message in history.msg_list:
                if message.from_account == ROBOT:
                    counts[body_text(message.msg_body).removeprefix("re: ")] += 1
    return counts


async def wait_for_answers(api_base: str, acked: list[str]) -> Counter[str]:
    """The answers once every acked message has one, or as they are at the deadline (for the report)."""

    async def all_answered() -> Counter[str] | None:
        counts = await replies_by_question(api_base)
        return counts if all(counts[question] for question in acked) else None

    try:
        return await await_until(
            all_answered, timeout=RECOVERY_SECONDS, failure="not every message answered", interval=0.2
        )
    except TimeoutError:
        return await replies_by_question(api_base)


def assert_each_answered_once(acked: list[str], counts: Counter[str], output: list[str]) -> None:
    missing = [question for question in acked if counts[question] == 0]
    doubled = {question: n for question, n in counts.items() if n > 1}
    assert not missing, f"{len(missing)} of {len(acked)} acked messages unanswered: {missing}\n" + "\n".join(
        output[-40:]
    )
    assert not doubled, f"answered more than once: {doubled}"
    assert set(counts) <= set(acked), "a reply to a message that was never acked"


@pytest.mark.slow
async def test_sigkill_at_random_moments_loses_and_doubles_no_acked_message(
    bots: Bots, rest_api: str
) -> None:
    rng = random.Random(11)
    port = free_port()
    bots.start(port)
    acked: list[str] = []
    seq = 0
    async with httpx.AsyncClient(trust_env=False, timeout=5) as http:
        for kill in range(4):
            for _ in range(12):
                seq += 1
                if question := await deliver(http, port, seq):
                    acked.append(question)
                await asyncio.sleep(rng.uniform(0, 0.05))
            if kill == 3:
                break
            await asyncio.sleep(rng.uniform(0.1, 1.2))  # answers are in flight now
            bots.kill(port)
            bots.start(port)
        restarted = time.monotonic()
        counts = await wait_for_answers(rest_api, acked)

    assert len(acked) == 48
    assert_each_answered_once(acked, counts, bots.lines)
    assert time.monotonic() - restarted < RECOVERY_SECONDS


@pytest.fixture
def replicas(rest_api: str, model_url: str, fresh_redis: str) -> Iterator[Bots]:
    running = Bots(bot_env(rest_api, model_url, fresh_redis))
    try:
        yield running
    finally:
        running.stop_all()


@pytest.mark.slow
async def test_two_replicas_on_redis_answer_once_and_finish_for_a_killed_one(
    replicas: Bots, rest_api: str
) -> None:
    first, second = free_port(), free_port()
    replicas.start(first)
    replicas.start(second)
    acked: list[str] = []
    async with httpx.AsyncClient(trust_env=False, timeout=5) as http:
        for seq in range(1, 41):
            ports = [first, second] if seq % 2 else [second, first]
            if seq % 4 == 0:  # the same callback reaching both replicas
                answers = await asyncio.gather(*(deliver(http, port, seq) for port in ports))
                assert answers == [f"m{seq}", f"m{seq}"]
            if question := await deliver(http, ports[0], seq):
                acked.append(question)
        await asyncio.sleep(0.5)  # the first replica holds answers in flight now
        replicas.kill(first)
        killed = time.monotonic()
        for seq in range(41, 51):
            if question := await deliver(http, second, seq):
                acked.append(question)
        counts = await wait_for_answers(rest_api, acked)

    assert len(acked) == 50
    assert_each_answered_once(acked, counts, replicas.lines)
    assert time.monotonic() - killed < RECOVERY_SECONDS
