"""The webhook: checks and their 4xx reasons, the ack, and what the worker then sends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from botkit.app import create_app
from botkit.callbacks import ACK_BODY
from botkit.config import Settings
from botkit.errors import LLMError
from botkit.llm.base import ChatMessage
from botkit.llm.echo import EchoProvider
from botkit.store import EntryStatus, InMemoryStore
from botkit.usersig import verify_usersig
from tests.conftest import KEY, SDKAPPID, c2c_body, callback_url, group_body
from tests.fakechat import FakeChat


@dataclass
class Bot:
    app: FastAPI
    http: httpx.AsyncClient
    chat: FakeChat
    store: InMemoryStore

    async def post(self, url: str, body: bytes, **kwargs: Any) -> httpx.Response:
        response = await self.http.post(url, content=body, **kwargs)
        await self.app.state.intake.wait_idle()
        return response


class FailingProvider:
    name = "failing"

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        raise LLMError("model exploded")
        yield ""  # pragma: no cover - makes this an async generator


async def start_bot(settings: Settings, provider: Any = None) -> AsyncIterator[Bot]:
    chat = FakeChat()
    store = InMemoryStore()
    app = create_app(
        settings,
        transport=httpx.MockTransport(chat),
        provider=provider or EchoProvider(),
        store=store,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
            yield Bot(app, http, chat, store)


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[Bot]:
    async for running in start_bot(settings):
        yield running


async def test_c2c_message_is_acked_and_answered_once(bot: Bot) -> None:
    response = await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello"))

    assert response.status_code == 200
    assert response.json() == ACK_BODY
    [sent] = bot.chat.sent("openim/sendmsg")
    assert sent["From_Account"] == "@RBT#001"
    assert sent["To_Account"] == "u1"
    assert sent["MsgBody"] == [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "echo: hello"}}]
    assert isinstance(sent["MsgRandom"], int)
    assert isinstance(sent["MsgSeq"], int)


async def test_rest_calls_are_signed_with_an_admin_usersig(bot: Bot) -> None:
    await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello"))

    [call] = bot.chat.calls
    assert call.query["identifier"] == "administrator"
    assert call.query["sdkappid"] == str(SDKAPPID)
    verify_usersig(call.query["usersig"], sdkappid=SDKAPPID, key=SecretStr(KEY), identifier="administrator")


async def test_group_mention_is_answered_into_the_group_at_the_asker(bot: Bot) -> None:
    response = await bot.post(callback_url("Bot.OnGroupMessage"), group_body("@@RBT#001 hello there"))

    assert response.json() == ACK_BODY
    [sent] = bot.chat.sent("group_open_http_svc/send_group_msg")
    assert sent["GroupId"] == "@TGS#2ABCDEFGH"
    assert sent["From_Account"] == "@RBT#001"
    assert sent["GroupAtInfo"] == [{"GroupAtAllFlag": 0, "GroupAt_Account": "u1"}]
    assert sent["MsgBody"][0]["MsgContent"]["Text"] == "@u1 echo: hello there"


async def test_duplicate_delivery_produces_one_reply(bot: Bot) -> None:
    first = await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello"))
    second = await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello"))

    assert first.json() == second.json() == ACK_BODY
    assert len(bot.chat.sent("openim/sendmsg")) == 1


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
    assert bot.chat.calls == []


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
    assert bot.chat.calls == []


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
    await bot.app.state.intake.wait_idle()

    assert response.json() == ACK_BODY
    assert len(bot.chat.sent("openim/sendmsg")) == 1


async def test_without_a_token_unsigned_callbacks_are_accepted(settings: Settings) -> None:
    async for bot in start_bot(settings.model_copy(update={"callback_token": None})):
        response = await bot.post(callback_url("Bot.OnC2CMessage", token=None), c2c_body())

        assert response.json() == ACK_BODY
        assert len(bot.chat.sent("openim/sendmsg")) == 1


async def test_provider_failure_sends_the_fallback_reply(settings: Settings) -> None:
    async for bot in start_bot(settings, provider=FailingProvider()):
        await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello"))

        [sent] = bot.chat.sent("openim/sendmsg")
        assert sent["MsgBody"][0]["MsgContent"]["Text"] == settings.fallback_reply


async def test_retryable_rest_failure_is_retried_with_the_same_randoms(bot: Bot) -> None:
    bot.chat.fail("openim/sendmsg", 60008)

    await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello"))

    first, second = bot.chat.sent("openim/sendmsg")
    assert (first["MsgRandom"], first["MsgSeq"]) == (second["MsgRandom"], second["MsgSeq"])
    assert first["MsgBody"] == second["MsgBody"]


async def test_non_retryable_rest_failure_is_reported_not_retried(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    bot.chat.fail("openim/sendmsg", 70107)

    await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello"))

    assert len(bot.chat.sent("openim/sendmsg")) == 1
    entry = await bot.store.get("c2c:u1:@RBT#001:1_918273645_1700000101")
    assert entry is not None
    assert entry.status is EntryStatus.FAILED
    assert "70107" in (entry.error or "")
    assert "giving up" in caplog.text


async def test_each_new_message_gets_new_randoms(bot: Bot) -> None:
    await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("one", seq=1))
    await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("two", seq=2))

    first, second = bot.chat.sent("openim/sendmsg")
    assert first["MsgRandom"] != second["MsgRandom"]


async def test_conversation_memory_reaches_the_model(settings: Settings) -> None:
    seen: list[list[ChatMessage]] = []

    class Recording(EchoProvider):
        async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
            seen.append(list(messages))
            async for chunk in super().stream(messages):
                yield chunk

    async for bot in start_bot(settings, provider=Recording()):
        await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("my name is Ann", seq=1))
        await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("what is my name?", seq=2))

    roles = [(m.role, m.content) for m in seen[1]]
    assert roles == [
        ("system", settings.system_prompt),
        ("user", "my name is Ann"),
        ("assistant", "echo: my name is Ann"),
        ("user", "what is my name?"),
    ]


async def test_a_long_answer_is_sent_in_order_in_parts_under_the_limit(settings: Settings) -> None:
    sentences = [f"Sentence number {i} of a very long answer." for i in range(800)]

    class Long(EchoProvider):
        async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
            for sentence in sentences:
                yield sentence + " "

    async for bot in start_bot(settings, provider=Long()):
        await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("tell me everything"))

        sent = bot.chat.sent("openim/sendmsg")
        texts = [body["MsgBody"][0]["MsgContent"]["Text"] for body in sent]
        assert len(texts) > 1
        assert all(len(text.encode()) <= 11 * 1024 for text in texts)
        assert " ".join(texts) == " ".join(sentences)
        assert len({body["MsgRandom"] for body in sent}) == len(sent)


async def test_control_characters_never_reach_the_chat(settings: Settings) -> None:
    class Noisy(EchoProvider):
        async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
            yield "clean\x00 text\x1b[31m here"

    async for bot in start_bot(settings, provider=Noisy()):
        await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hi"))

        [sent] = bot.chat.sent("openim/sendmsg")
        assert sent["MsgBody"][0]["MsgContent"]["Text"] == "clean text[31m here"


async def test_a_model_slower_than_the_llm_timeout_gets_the_fallback(settings: Settings) -> None:
    never = asyncio.Event()

    class Hanging(EchoProvider):
        async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
            await never.wait()
            yield "too late"

    quick = settings.model_copy(update={"llm_timeout": 0.05})
    async for bot in start_bot(quick, provider=Hanging()):
        await bot.post(callback_url("Bot.OnC2CMessage"), c2c_body("hello"))

        [sent] = bot.chat.sent("openim/sendmsg")
        assert sent["MsgBody"][0]["MsgContent"]["Text"] == settings.fallback_reply


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


async def test_a_store_outage_is_a_503_not_an_ack(settings: Settings) -> None:
    class Broken(InMemoryStore):
        async def record(self, key: str, payload: str, *, now: float, lane: str) -> bool:
            raise ConnectionError("store unreachable")

    app = create_app(
        settings, transport=httpx.MockTransport(FakeChat()), provider=EchoProvider(), store=Broken()
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bot") as http,
    ):
        response = await http.post(callback_url("Bot.OnC2CMessage"), content=c2c_body())

    assert response.status_code == 503
    assert response.json()["ActionStatus"] == "FAIL"
