"""Robot callbacks: when they fire, their query string, signature and body, and how failures are logged."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr

from botkit.callbacks import ACK_BODY, C2CMessage, GroupMessage, parse_callback, parse_query
from botkit.elements import mention_text, text_body
from botkit.restmodels import RestCommand
from botkit.restrequests import CreateGroupRequest, GroupAt, Member, SendC2CRequest, SendGroupRequest
from botkit.signature import verify_callback
from botkit.usersig import generate_usersig
from sandbox.app import backend_of, create_backend_app
from sandbox.dispatch import Dispatcher
from sandbox.state import SandboxState
from sandbox.traffic import TrafficLog
from tests.support import ADMIN, KEY, ROBOT, SDKAPPID, TOKEN

from .conftest import WEBHOOK, Harness, make_state, text_msg

PAYLOADS = Path(__file__).parents[1] / "payloads"
QUERY_ORDER = ["SdkAppid", "CallbackCommand", "contenttype", "ClientIP", "OptPlatform", "Sign", "RequestTime"]


def shape(data: dict[str, Any]) -> dict[str, type]:
    return {name: type(value) for name, value in data.items()}


def documented(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return data


async def send_c2c(
    harness: Harness, sender: str = "alice", to: str = ROBOT, text: str = "hi"
) -> dict[str, Any]:
    request = SendC2CRequest(
        from_account=sender, to_account=to, msg_random=918273645, msg_seq=2001, msg_body=text_body(text)
    )
    return await harness.ok(RestCommand.SEND_C2C, request.to_wire())


async def group_with(harness: Harness, *members: str, group_type: str = "Public") -> str:
    request = CreateGroupRequest(
        type=group_type, name="team", member_list=[Member(member_account=m) for m in members]
    )
    group_id: str = (await harness.ok(RestCommand.CREATE_GROUP, request.to_wire()))["GroupId"]
    return group_id


async def send_group(
    harness: Harness, group_id: str, text: str, *, sender: str = "bob", at: Any = None
) -> None:
    request = SendGroupRequest(
        group_id=group_id, from_account=sender, random=55667788, msg_body=text_body(text)
    )
    # `at` goes as given: some cases are GroupAtInfo items a client might send, not ones botkit would.
    await harness.ok(RestCommand.SEND_GROUP, request.to_wire() | ({"GroupAtInfo": at} if at else {}))


async def test_c2c_to_a_robot_fires_a_signed_callback(harness: Harness) -> None:
    sent = await send_c2c(harness, text="What is a UserSig?")
    [body] = await harness.sent_callbacks()
    request = harness.recorder.requests[0]
    assert str(request.url.copy_with(query=None)) == WEBHOOK
    assert [name for name, _ in request.url.params.multi_items()] == QUERY_ORDER
    query = dict(request.url.params)
    assert query | {"Sign": "", "RequestTime": ""} == {
        "SdkAppid": str(SDKAPPID),
        "CallbackCommand": "Bot.OnC2CMessage",
        "contenttype": "json",
        "ClientIP": "127.0.0.1",
        "OptPlatform": "RESTAPI",
        "Sign": "",
        "RequestTime": "",
    }
    assert query["RequestTime"] == str(int(harness.clock()))
    verify_callback(TOKEN, query["Sign"], query["RequestTime"], clock=harness.clock)
    callback = parse_callback("Bot.OnC2CMessage", request.content)
    assert isinstance(callback, C2CMessage)
    assert (callback.msg_key, callback.msg_time, callback.text) == (
        sent["MsgKey"],
        sent["MsgTime"],
        "What is a UserSig?",
    )
    assert callback.event_time == int(harness.clock() * 1000)
    assert shape(body) == shape(documented("c2c_message.json"))


async def test_no_token_means_no_sign_and_no_request_time(harness: Harness) -> None:
    state = harness.backend.state
    state.set_config(state.config.model_copy(update={"callback_token": None}))
    await send_c2c(harness)
    await harness.backend.dispatcher.drain()
    assert [name for name, _ in harness.recorder.requests[0].url.params.multi_items()] == QUERY_ORDER[:5]


async def test_group_mention_fires_a_group_callback(harness: Harness) -> None:
    group_id = await group_with(harness, "alice", "bob", ROBOT)
    await send_group(
        harness, group_id, mention_text(ROBOT, "summarise"), at=[GroupAt.member(ROBOT).to_wire()]
    )
    [body] = await harness.sent_callbacks()
    query = dict(harness.recorder.requests[0].url.params)
    assert query["CallbackCommand"] == "Bot.OnGroupMessage"
    verify_callback(TOKEN, query["Sign"], query["RequestTime"], clock=harness.clock)
    callback = parse_callback("Bot.OnGroupMessage", harness.recorder.requests[0].content)
    assert isinstance(callback, GroupMessage)
    assert (callback.group_id, callback.type, callback.msg_seq, callback.random) == (
        group_id,
        "Public",
        1,
        55667788,
    )
    assert (callback.from_account, callback.operator_account, callback.at_robots_account) == (
        "bob",
        ADMIN,
        [ROBOT],
    )
    assert shape(body) == shape(documented("group_message.json"))
    assert "MsgKey" not in body


@pytest.mark.parametrize(
    ("text", "at", "robots"),
    [
        (f"@{ROBOT} hi", None, [ROBOT]),
        (f"@{ROBOT} @@RBT#002 hi", None, [ROBOT, "@RBT#002"]),
        ("hi robots", [{"GroupAt_Account": "@RBT#002"}, {"GroupAt_Account": ROBOT}], ["@RBT#002", ROBOT]),
        (f"@alice @{ROBOT} hi", None, [ROBOT]),
    ],
)
async def test_every_mentioned_robot_is_named_once(
    harness: Harness, text: str, at: Any, robots: list[str]
) -> None:
    await harness.ok("openim_robot_http_svc/create_robot", {"UserID": "@RBT#002"})
    group_id = await group_with(harness, "alice", "bob", ROBOT, "@RBT#002")
    await send_group(harness, group_id, text, at=at)
    [body] = await harness.sent_callbacks()
    assert body["AtRobots_Account"] == robots


@pytest.mark.parametrize(
    ("text", "at", "sender", "members"),
    [
        ("@all hello", [{"GroupAtAllFlag": 1}], "bob", ["bob", ROBOT]),
        (f"@{ROBOT} hi", None, ROBOT, ["bob", ROBOT]),
        (f"@{ROBOT} hi", None, "bob", ["bob"]),
        (f"hello @{ROBOT}", None, "bob", ["bob", ROBOT]),
        ("@bob hi", [{"GroupAtAllFlag": 0, "GroupAt_Account": "bob"}], "alice", ["alice", "bob", ROBOT]),
    ],
    ids=["at-all", "robot-sender", "robot-not-member", "mention-not-leading", "user-mention"],
)
async def test_group_messages_that_fire_nothing(
    harness: Harness, text: str, at: Any, sender: str, members: list[str]
) -> None:
    group_id = await group_with(harness, *members)
    await send_group(harness, group_id, text, sender=sender, at=at)
    assert await harness.sent_callbacks() == []


@pytest.mark.parametrize(("sender", "to"), [("alice", "bob"), (ROBOT, "alice")])
async def test_c2c_messages_that_fire_nothing(harness: Harness, sender: str, to: str) -> None:
    await send_c2c(harness, sender, to)
    assert await harness.sent_callbacks() == []


async def test_a_message_from_the_ui_fires_as_the_user(harness: Harness) -> None:
    group_id = await group_with(harness, "alice", ROBOT)
    request = {
        "kind": "group",
        "from_account": "alice",
        "to": group_id,
        "text": f"@{ROBOT} hey",
        "at": [ROBOT],
    }
    answer = (await harness.client.post("/sandbox/api/send", json=request)).json()
    assert (answer["ErrorCode"], answer["MsgSeq"]) == (0, 1)
    [body] = await harness.sent_callbacks()
    assert (body["Operator_Account"], body["From_Account"]) == ("alice", "alice")
    assert dict(harness.recorder.requests[0].url.params)["OptPlatform"] == "Web"


def recording_bot(received: list[C2CMessage | GroupMessage]) -> FastAPI:
    """A minimal bot webhook that checks what the sandbox sends with botkit's own parsers."""
    bot = FastAPI()

    @bot.post("/im")
    async def webhook(request: Request) -> dict[str, Any]:
        query = parse_query(request.query_params)
        assert query.sdkappid == SDKAPPID
        verify_callback(TOKEN, query.sign, query.request_time)
        received.append(parse_callback(query.callback_command, await request.body()))
        return ACK_BODY

    return bot


async def test_callbacks_reach_an_asgi_bot_that_verifies_them() -> None:
    received: list[C2CMessage | GroupMessage] = []
    state = make_state()
    app = create_backend_app(
        state, transport=httpx.ASGITransport(recording_bot(received)), rng=random.Random(1)
    )
    usersig = generate_usersig(SDKAPPID, SecretStr(KEY), ADMIN, 86400)
    params = {"sdkappid": str(SDKAPPID), "identifier": ADMIN, "usersig": usersig, "contenttype": "json"}
    body = {"From_Account": "alice", "To_Account": ROBOT, "MsgRandom": 1, "MsgBody": text_msg("ping")}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://chat.test") as client,
    ):
        answer = (await client.post("/v4/openim/sendmsg", params=params, json=body)).json()
        await backend_of(app).dispatcher.drain()
    assert answer["ErrorCode"] == 0
    assert [(cb.from_account, cb.text) for cb in received] == [("alice", "ping")]
    [entry] = backend_of(app).traffic.list(kind="callback")
    assert (entry.status, entry.error, entry.response) == (200, None, ACK_BODY)


async def reply_500(request: httpx.Request) -> httpx.Response:
    return httpx.Response(500, text="boom")


async def reply_html(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, text="<html>ok</html>")


async def reply_refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.parametrize(
    ("reply", "status", "error"),
    [
        (reply_500, 500, "HTTP 500"),
        (reply_html, 200, "the reply is not JSON"),
        (reply_refused, None, "unreachable (ConnectError)"),
    ],
)
async def test_failed_callbacks_are_recorded_and_not_retried(
    harness: Harness, reply: Any, status: int | None, error: str
) -> None:
    state = harness.backend.state
    state.set_config(state.config.model_copy(update={"callback_retries": 2}))
    harness.recorder.reply = reply
    await send_c2c(harness)
    await harness.backend.dispatcher.drain()
    [entry] = harness.backend.traffic.list(kind="callback")
    assert (entry.status, entry.error) == (status, error)
    assert entry.request["To_Account"] == ROBOT


async def test_without_a_webhook_url_the_callback_is_logged_as_skipped(harness: Harness) -> None:
    state = harness.backend.state
    state.set_config(state.config.model_copy(update={"webhook_url": None}))
    await send_c2c(harness)
    assert await harness.sent_callbacks() == []
    [entry] = harness.backend.traffic.list(kind="callback")
    assert entry.error == "no callback URL is configured"


async def test_shutdown_cancels_pending_callbacks(state: SandboxState) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    state.set_config(state.config.model_copy(update={"callback_timeout": 60.0}))
    app = create_backend_app(state, transport=httpx.MockTransport(hang))
    sandbox = backend_of(app)
    async with asyncio.timeout(5):
        async with app.router.lifespan_context(app):
            sandbox.execute(
                "openim/sendmsg",
                {"From_Account": "alice", "To_Account": ROBOT, "MsgRandom": 1, "MsgBody": text_msg("x")},
            )
            assert sandbox.dispatcher.pending == 1
    assert sandbox.dispatcher.pending == 0


async def test_a_dispatcher_outside_its_lifespan_refuses_to_send(state: SandboxState) -> None:
    dispatcher = Dispatcher(state, TrafficLog())
    callback = C2CMessage(
        from_account="alice", to_account=ROBOT, msg_seq=1, msg_random=1, msg_time=1, msg_body=[]
    )
    with pytest.raises(RuntimeError, match="lifespan"):
        dispatcher.schedule(callback)


async def test_robot_to_robot_fires_a_callback_and_robot_to_person_does_not(harness: Harness) -> None:
    await harness.ok("openim_robot_http_svc/create_robot", {"UserID": "@RBT#002"})

    await send_c2c(harness, sender="@RBT#002", to=ROBOT)
    await send_c2c(harness, sender=ROBOT, to="alice", text="a reply")

    [body] = await harness.sent_callbacks()
    assert (body["From_Account"], body["To_Account"]) == ("@RBT#002", ROBOT)
