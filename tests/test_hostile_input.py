"""Bad input through the webhook: a 4xx with a reason, never a 5xx; what is acked is answered.

Regression tests for issue 9: deep nesting, huge integers, lone surrogates (400); non-finite
numbers and deep unknown elements (acked, stored so the worker reads them back); odd elements next
to text (the text is answered); messages without text (a fixed notice, no model call, no memory);
log injection; the source allow-list; a client gone mid-body.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from ipaddress import ip_network
from typing import Any

import httpx
import pytest
from starlette.types import Message

from botkit.app import create_app, wiring_of
from botkit.callbacks import ACK_BODY, callback_adapter, journal_payload, parse_callback
from botkit.config import DEFAULT_NON_TEXT_REPLY, Settings
from botkit.llm.base import ChatMessage
from botkit.store import InMemoryStore
from tests.conftest import c2c_body, callback_url
from tests.fakechat import FakeChat

C2C = "Bot.OnC2CMessage"
TEXT = {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}


class CountingEcho:
    """An echo model that counts its calls, to show which messages never reach it."""

    name = "counting-echo"

    def __init__(self) -> None:
        self.prompts: list[Sequence[ChatMessage]] = []

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        self.prompts.append(messages)
        yield "echo: " + messages[-1].content


class Bot:
    def __init__(self, settings: Settings, client: tuple[str, int] = ("127.0.0.1", 40000)) -> None:
        self.chat = FakeChat()
        self.store = InMemoryStore()
        self.model = CountingEcho()
        self.app = create_app(
            settings, transport=httpx.MockTransport(self.chat), provider=self.model, store=self.store
        )
        self.client = client

    async def __aenter__(self) -> Bot:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self.app, client=self.client)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://bot")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        await self._lifespan.__aexit__(None, None, None)

    async def post(self, body: bytes, command: str = C2C) -> httpx.Response:
        response = await self.http.post(callback_url(command), content=body)
        await wiring_of(self.app).intake.wait_idle()
        return response

    def replies(self) -> list[str]:
        return [sent["MsgBody"][0]["MsgContent"]["Text"] for sent in self.chat.sent("openim/sendmsg")]


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[Bot]:
    async with Bot(settings) as running:
        yield running


def c2c(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(c2c_body())
    return data | changes


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def with_raw(data: dict[str, Any], raw: str) -> bytes:
    """`data` as JSON with the field "Raw" holding `raw` verbatim (not valid Python JSON input)."""
    return json.dumps(data | {"Raw": "@RAW@"}).replace('"@RAW@"', raw).encode()


REFUSED = [
    pytest.param(with_raw(c2c(), nested(1000)), "recursion limit", id="nested-1000"),
    pytest.param(with_raw(c2c(), nested(990)), "recursion limit", id="nested-990"),
    pytest.param(with_raw(c2c(), nested(250)), "recursion limit", id="nested-250"),
    pytest.param(
        json.dumps(c2c()).replace('"MsgSeq": 1', '"MsgSeq": ' + "7" * 4400).encode(), "number", id="int"
    ),
    pytest.param(with_raw(c2c(), "1" + "0" * 4301), "number", id="int-unread"),
    pytest.param(json.dumps(c2c()).replace("hello", "hi \\ud83d").encode(), "hex escape", id="cut-emoji"),
    pytest.param(json.dumps(c2c()).replace("hello", "\\udc00 x").encode(), "surrogate", id="lone-low"),
]


@pytest.mark.parametrize(("body", "reason"), REFUSED)
async def test_input_botkit_cannot_read_is_a_400_with_a_reason(bot: Bot, body: bytes, reason: str) -> None:
    response = await bot.post(body)

    assert response.status_code == 400
    assert reason in response.json()["ErrorInfo"]
    assert bot.chat.calls == []


UNREAD = [
    {"MsgType": "TIMLocationElem", "MsgContent": {"Desc": "x", "Latitude": 1, "Longitude": 2}},
    {"MsgType": "TIMSoundElem", "MsgContent": {"UUID": "no-url", "Second": 2}},
    {"MsgType": "TIMImageElem", "MsgContent": {"UUID": "i", "ImageInfoArray": [{"Type": 1, "Size": 3}]}},
    {"MsgType": "TIMFaceElem", "MsgContent": {"Data": "no index"}},
    {"MsgType": "TIMNewElem", "MsgContent": {"Deep": "@DEEP@"}},
]
ACCEPTED = [
    pytest.param(
        json.dumps(c2c(MsgBody=[TEXT, UNREAD[0]])).replace('"Latitude": 1', '"Latitude": 1e400'), id="1e400"
    ),
    pytest.param(
        json.dumps(c2c(MsgBody=[TEXT, UNREAD[0]])).replace('"Latitude": 1', '"Latitude": NaN'), id="NaN"
    ),
    pytest.param(
        json.dumps(c2c(MsgBody=[TEXT, UNREAD[0]])).replace('"Latitude": 1', '"Latitude": -Infinity'), id="inf"
    ),
    pytest.param(json.dumps(c2c(MsgBody=[UNREAD[1], TEXT])), id="sound-without-Url"),
    pytest.param(json.dumps(c2c(MsgBody=[TEXT, UNREAD[2]])), id="image-without-URL"),
    pytest.param(json.dumps(c2c(MsgBody=[UNREAD[3], TEXT])), id="face-without-Index"),
    pytest.param(
        json.dumps(c2c(MsgBody=[TEXT, UNREAD[4]])).replace('"@DEEP@"', nested(190)), id="unknown-190-deep"
    ),
    pytest.param(
        json.dumps(c2c(Extra={"Big": 0})).replace('"Big": 0', '"Big": ' + "9" * 4300), id="int-4300"
    ),
]


@pytest.mark.parametrize("body", ACCEPTED)
async def test_hostile_but_readable_input_is_acked_stored_readably_and_answered(bot: Bot, body: str) -> None:
    message = parse_callback(C2C, body.encode())
    stored = journal_payload(message)

    assert callback_adapter.validate_json(stored).dedupe_key == message.dedupe_key
    response = await bot.post(body.encode())

    assert response.json() == ACK_BODY
    assert bot.replies() == ["echo: hello"]
    entry = await bot.store.get(message.dedupe_key)
    assert entry is not None
    assert entry.payload == stored


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([], id="empty-body"),
        pytest.param([{"MsgType": "TIMTextElem", "MsgContent": {"Text": "  "}}], id="blank-text"),
        pytest.param([UNREAD[2]], id="image-only"),
        pytest.param([{"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1, "Data": "[smile]"}}], id="face"),
    ],
)
async def test_a_message_without_text_gets_the_notice_not_the_model(bot: Bot, body: list[Any]) -> None:
    await bot.post(json.dumps(c2c(MsgBody=body)).encode())

    assert bot.replies() == [DEFAULT_NON_TEXT_REPLY]
    assert bot.model.prompts == []
    assert await bot.store.load_turns("c2c:@RBT#001:u1", 10) == []


async def test_the_non_text_notice_is_a_setting(settings: Settings) -> None:
    custom = settings.model_copy(update={"non_text_reply": "Text only, please."})
    async with Bot(custom) as bot:
        await bot.post(json.dumps(c2c(MsgBody=[])).encode())
        await bot.post(c2c_body("and now text", seq=2))

        assert bot.replies() == ["Text only, please.", "echo: and now text"]
        [prompt] = bot.model.prompts
        assert [turn.content for turn in prompt if turn.role == "user"] == ["and now text"]


@pytest.mark.parametrize(
    "field",
    ["From_Account", "MsgKey", "To_Account"],
)
async def test_a_newline_from_outside_cannot_forge_a_log_line(
    bot: Bot, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    forged = "x\n2026-12-01 INFO botkit.intake forged line\r\u2028"
    await bot.post(json.dumps(c2c(**({"To_Account": "@RBT#999"} | {field: forged}))).encode())

    botkit_lines = [record.getMessage() for record in caplog.records if record.name.startswith("botkit")]
    assert botkit_lines, "the callback was logged"
    assert any("forged line" in line for line in botkit_lines)
    for line in botkit_lines:
        assert "\n" not in line and "\r" not in line and "\u2028" not in line


@pytest.mark.parametrize(
    ("allowed", "client", "status"),
    [
        ("10.0.0.0/8", "10.1.2.3", 200),
        ("10.0.0.0/8, 192.0.2.0/24", "192.0.2.7", 200),
        ("10.0.0.0/8", "203.0.113.9", 403),
        ("2001:db8::/32", "2001:db8::1", 200),
        ("2001:db8::/32", "127.0.0.1", 403),
        ("", "203.0.113.9", 200),
    ],
)
async def test_the_source_allow_list(settings: Settings, allowed: str, client: str, status: int) -> None:
    limited = Settings(
        **(settings.model_dump() | {"allowed_sources": allowed, "key": "k", "callback_token": None})
    )
    async with Bot(limited, client=(client, 5555)) as bot:
        response = await bot.post(c2c_body())

    assert response.status_code == status
    if status == 403:
        assert response.json()["ErrorInfo"] == f"source {client} is not in BOTKIT_ALLOWED_SOURCES"
        assert bot.chat.calls == []


def test_allowed_sources_parse_as_networks(settings: Settings) -> None:
    parsed = Settings(sdkappid=1, key="k", allowed_sources="10.0.0.0/8, 2001:db8::/32,192.0.2.1")

    assert parsed.allowed_sources == [
        ip_network("10.0.0.0/8"),
        ip_network("2001:db8::/32"),
        ip_network("192.0.2.1"),
    ]


async def test_a_client_gone_mid_body_logs_no_traceback_and_no_server_error(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = callback_url(C2C)
    path, _, query = url.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"bot"), (b"content-length", b"500")],
        "client": ("127.0.0.1", 40000),
        "server": ("bot", 80),
    }
    incoming: list[Message] = [
        {"type": "http.request", "body": c2c_body()[:40], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await bot.app(scope, receive, send)

    starts = [message["status"] for message in sent if message["type"] == "http.response.start"]
    assert all(status < 500 for status in starts)
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING or record.exc_info]
    assert any("disconnected" in record.getMessage() for record in caplog.records)
    assert bot.chat.calls == []
