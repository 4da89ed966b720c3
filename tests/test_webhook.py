"""The webhook: checks and their 4xx reasons, the ack, and what the worker then sends.

The bot's REST calls go to an in-process sandbox, which checks each as Tencent does; the tests
read what it accepted.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from botkit.app import create_app
from botkit.callbacks import ACK_BODY
from botkit.config import Settings
from botkit.llm.echo import EchoProvider
from botkit.store import EntryStatus, InMemoryStore
from sandbox.harness import InProcessSandbox
from tests.support import (
    ADMIN,
    GROUP,
    ROBOT,
    SDKAPPID,
    SEND_GROUP_MSG,
    SENDMSG,
    USER,
    Failing,
    Hanging,
    RecordingEcho,
    Scripted,
    c2c_body,
    callback_url,
    error_codes,
    fail_rest_calls,
    group_body,
    rest_traffic,
    sent,
    sent_texts,
)


@dataclass
class Bot:
    app: FastAPI
    http: httpx.AsyncClient
    chat: InProcessSandbox
    store: InMemoryStore

    async def post(self, url: str, body: bytes, **kwargs: Any) -> httpx.Response:
        response = await self.http.post(url, content=body, **kwargs)
        await self.chat.settle()
        return response


async def start_bot(settings: Settings, chat: InProcessSandbox, provider: Any = None) -> AsyncIterator[Bot]:
    store = InMemoryStore()
    app = create_app(settings, transport=chat.transport, provider=provider or EchoProvider(), store=store)
    async with chat.running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
            yield Bot(app, http, chat, store)


@pytest.fixture
async def bot(settings: Settings, chat_api: InProcessSandbox) -> AsyncIterator[Bot]:
    async for running in start_bot(settings, chat_api):
        yield running


async def test_c2c_message_is_acked_and_answered_once(bot: Bot) -> None:
    response = await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello"))

    assert response.status_code == 200
    assert response.json() == ACK_BODY
    [body] = sent(bot.chat)
    assert (body["From_Account"], body["To_Account"]) == (ROBOT, USER)
    assert body["MsgBody"] == [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "echo: hello"}}]
    [stored] = bot.chat.state.c2c_history(USER, ROBOT)
    assert (stored.from_account, stored.msg_seq) == (ROBOT, body["MsgSeq"])


async def test_rest_calls_are_signed_with_an_admin_usersig(bot: Bot) -> None:
    await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello"))

    # The sandbox verifies the UserSig against the app's key, and takes none but the admin's.
    [call] = rest_traffic(bot.chat)
    assert call.response["ErrorCode"] == 0
    query = parse_qs(urlsplit(call.url).query)
    assert (query["identifier"], query["sdkappid"]) == ([ADMIN], [str(SDKAPPID)])


async def test_group_mention_is_answered_into_the_group_at_the_asker(bot: Bot) -> None:
    response = await bot.post(callback_url("Bot.OnGroupMessage"), group_body("@@RBT#001 hello there"))

    assert response.json() == ACK_BODY
    [body] = sent(bot.chat, SEND_GROUP_MSG)
    assert (body["GroupId"], body["From_Account"]) == (GROUP, ROBOT)
    assert body["GroupAtInfo"] == [{"GroupAtAllFlag": 0, "GroupAt_Account": USER}]
    assert sent_texts(bot.chat, SEND_GROUP_MSG) == ["@u1 echo: hello there"]
    assert [record.from_account for record in bot.chat.state.group_history(GROUP)] == [ROBOT]


async def test_duplicate_delivery_produces_one_reply(bot: Bot) -> None:
    first = await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello"))
    second = await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello"))

    assert first.json() == second.json() == ACK_BODY
    assert len(rest_traffic(bot.chat)) == 1


@pytest.mark.parametrize(
    ("url", "body"),
    [
        pytest.param(
            partial(callback_url, "Bot.OnC2CMessage"), c2c_body(sender="@RBT#002"), id="robot-sender"
        ),
        pytest.param(
            partial(callback_url, "Bot.OnC2CMessage"), c2c_body(robot="@RBT#999"), id="c2c-other-robot"
        ),
        pytest.param(
            partial(callback_url, "Bot.OnGroupMessage"),
            group_body("@@RBT#999 hi", robots=["@RBT#999"]),
            id="group-mentions-another-robot",
        ),
        pytest.param(
            partial(callback_url, "Bot.OnGroupMessage"),
            group_body(sender="@RBT#002"),
            id="group-robot-sender",
        ),
    ],
)
async def test_messages_not_for_us_are_acked_and_not_answered(
    bot: Bot, url: Callable[[], str], body: bytes
) -> None:
    response = await bot.post(url(), body)

    assert response.json() == ACK_BODY
    assert rest_traffic(bot.chat) == []


@pytest.mark.parametrize(
    ("url", "body", "status", "reason"),
    [
        (partial(callback_url, "Bot.OnC2CMessage", sdkappid=1400000999), c2c_body(), 403, "wrong app"),
        (
            partial(callback_url, "Bot.OnC2CMessage", token="forged-token"),
            c2c_body(),
            403,
            "Sign does not match",
        ),
        (
            partial(callback_url, "Bot.OnC2CMessage", request_time=int(time.time()) - 120),
            c2c_body(),
            403,
            "more than 60 s",
        ),
        (partial(callback_url, "Bot.OnC2CMessage", token=None), c2c_body(), 403, "not signed"),
        (partial(callback_url, "Bot.OnC2CMessage"), b"{not json", 400, "not UTF-8 JSON"),
        (partial(callback_url, "Bot.OnC2CMessage"), b"", 400, "empty body"),
        (partial(callback_url, "Bot.OnC2CMessage"), b'{"From_Account": "u1"}', 400, "To_Account"),
        (partial(callback_url, "State.StateChange"), c2c_body(), 400, "unsupported CallbackCommand"),
        (lambda: "/im?CallbackCommand=Bot.OnC2CMessage", c2c_body(), 400, "SdkAppid"),
    ],
)
async def test_bad_callbacks_get_a_4xx_with_a_reason(
    bot: Bot, url: Callable[[], str], body: bytes, status: int, reason: str
) -> None:
    response = await bot.post(url(), body)

    assert response.status_code == status
    assert response.json()["ActionStatus"] == "FAIL"
    assert reason in response.json()["ErrorInfo"]
    assert rest_traffic(bot.chat) == []


async def test_oversized_body_is_refused(bot: Bot) -> None:
    response = await bot.post(callback_url("Bot.OnC2CMessage"), b" " * (1024 * 1024 + 1))

    assert response.status_code == 413


async def test_get_is_not_allowed(bot: Bot) -> None:
    response = await bot.http.get(callback_url("Bot.OnC2CMessage"))

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"detail": "Method Not Allowed"}


async def test_other_paths_still_reach_fastapi(bot: Bot) -> None:
    assert (await bot.http.get("/healthz")).json()["status"] == "ok"
    assert (await bot.http.post("/im/other", content=c2c_body())).status_code == 404


async def test_a_body_in_many_small_chunks_is_read_whole(bot: Bot) -> None:
    body = c2c_body("hello")

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 7):
            yield body[start : start + 7]

    response = await bot.http.post(callback_url("Bot.OnC2CMessage"), content=chunks())
    await bot.chat.settle()

    assert response.json() == ACK_BODY
    assert len(sent(bot.chat)) == 1


async def test_without_a_token_unsigned_callbacks_are_accepted(
    settings: Settings, chat_api: InProcessSandbox
) -> None:
    async for bot in start_bot(settings.model_copy(update={"callback_token": None}), chat_api):
        response = await bot.post(callback_url("Bot.OnC2CMessage", token=None), c2c_body())

        assert response.json() == ACK_BODY
        assert sent_texts(bot.chat) == ["echo: hello"]


async def test_provider_failure_sends_the_fallback_reply(
    settings: Settings, chat_api: InProcessSandbox
) -> None:
    async for bot in start_bot(settings, chat_api, provider=Failing()):
        await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello"))

        assert sent_texts(bot.chat) == [settings.fallback_reply]


async def test_retryable_rest_failure_is_retried_with_the_same_randoms(bot: Bot) -> None:
    fail_rest_calls(bot.chat, 60008, times=1)

    await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello"))

    assert error_codes(bot.chat) == [60008, 0]
    first, second = [call.request for call in bot.chat.rest_calls(SENDMSG)]
    assert (first["MsgRandom"], first["MsgSeq"]) == (second["MsgRandom"], second["MsgSeq"])
    assert first["MsgBody"] == second["MsgBody"]


async def test_a_refused_reply_is_reported_not_retried(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    # Chat has no account "stranger", so it refuses the reply with 90012, which no retry can fix.
    await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello", sender="stranger"))

    assert error_codes(bot.chat) == [90012]
    entry = await bot.store.get("c2c:stranger:@RBT#001:1_918273645_1700000101")
    assert entry is not None
    assert entry.status is EntryStatus.FAILED
    assert "90012" in (entry.error or "")
    assert "giving up" in caplog.text


async def test_each_new_message_gets_new_randoms(bot: Bot) -> None:
    await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("one", seq=1))
    await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("two", seq=2))

    first, second = sent(bot.chat)
    assert first["MsgRandom"] != second["MsgRandom"]


async def test_conversation_memory_reaches_the_model(settings: Settings, chat_api: InProcessSandbox) -> None:
    model = RecordingEcho()
    async for bot in start_bot(settings, chat_api, provider=model):
        await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("my name is Ann", seq=1))
        await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("what is my name?", seq=2))

    roles = [(m.role, m.content) for m in model.prompts[1]]
    assert roles == [
        ("system", settings.system_prompt),
        ("user", "my name is Ann"),
        ("assistant", "echo: my name is Ann"),
        ("user", "what is my name?"),
    ]


async def test_a_long_answer_is_sent_in_order_in_parts_under_the_limit(
    settings: Settings, chat_api: InProcessSandbox
) -> None:
    sentences = [f"Sentence number {i} of a very long answer." for i in range(800)]

    long = Scripted(chunks=[sentence + " " for sentence in sentences])
    async for bot in start_bot(settings, chat_api, provider=long):
        await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("tell me everything"))

        texts = sent_texts(bot.chat)
        assert len(texts) > 1
        assert all(len(text.encode()) <= 11 * 1024 for text in texts)
        assert " ".join(texts) == " ".join(sentences)
        assert len({body["MsgRandom"] for body in sent(bot.chat)}) == len(texts)


async def test_control_characters_never_reach_the_chat(
    settings: Settings, chat_api: InProcessSandbox
) -> None:
    noisy = Scripted(chunks=["clean\x00 text\x1b[31m here"])
    async for bot in start_bot(settings, chat_api, provider=noisy):
        await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hi"))

        assert sent_texts(bot.chat) == ["clean text[31m here"]


async def test_a_model_slower_than_the_llm_timeout_gets_the_fallback(
    settings: Settings, chat_api: InProcessSandbox
) -> None:
    quick = settings.model_copy(update={"llm_timeout": 0.05})
    async for bot in start_bot(quick, chat_api, provider=Hanging()):
        await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello"))

        assert sent_texts(bot.chat) == [settings.fallback_reply]


def test_an_unsigned_webhook_is_warned_about_at_start(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    create_app(
        settings.model_copy(update={"callback_token": None}), provider=EchoProvider(), store=InMemoryStore()
    )

    assert "BOTKIT_CALLBACK_TOKEN is not set" in caplog.text


async def test_an_oversized_body_without_a_length_is_refused(bot: Bot) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    response = await bot.http.post(callback_url("Bot.OnC2CMessage"), content=chunks())

    assert response.status_code == 413


async def test_a_store_outage_is_a_503_not_an_ack(settings: Settings, chat_api: InProcessSandbox) -> None:
    class Broken(InMemoryStore):
        async def record(self, key: str, payload: str, *, now: float, lane: str) -> bool:
            raise ConnectionError("store unreachable")

    app = create_app(settings, transport=chat_api.transport, provider=EchoProvider(), store=Broken())
    transport = httpx.ASGITransport(app=app)
    async with (
        chat_api.running(app),
        httpx.AsyncClient(transport=transport, base_url="http://bot") as http,
    ):
        response = await http.post(callback_url("Bot.OnC2CMessage"), content=c2c_body())

    assert response.status_code == 503
    assert response.json()["ActionStatus"] == "FAIL"
    assert rest_traffic(chat_api) == []
