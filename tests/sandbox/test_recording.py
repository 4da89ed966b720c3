"""Record a session's callbacks and REST calls (secrets removed), replay them into a sandbox or at a
webhook, and load them through the `replay` fixture to check what the bot sends back."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from botkit.app import create_app
from botkit.config import Settings
from botkit.errors import ConfigError
from botkit.lab.recording import RecordedCall, dump_lines, load_lines, read_recording, replay_callbacks
from botkit.signature import verify_callback
from sandbox.chat import Chat
from sandbox.harness import InProcessSandbox, Replay
from tests.support import KEY, TOKEN

from .conftest import Harness
from .test_faults import message_robot

SESSIONS = Path(__file__).parent / "sessions"
ReplayFixture = Callable[[Path], Awaitable[Replay]]


async def record_session(chat: Chat, sandbox: InProcessSandbox) -> str:
    await chat.send("hello")
    await chat.send_group("what is a UserSig?")
    return dump_lines(sandbox.backend.recording)


async def test_a_recording_holds_callbacks_and_rest_calls_without_secrets(
    chat: Chat, sandbox: InProcessSandbox
) -> None:
    text = await record_session(chat, sandbox)
    calls = load_lines(text)

    assert [call.kind for call in calls] == ["callback", "rest", "callback", "rest"]
    assert [call.command for call in calls] == [
        "Bot.OnC2CMessage",
        "openim/sendmsg",
        "Bot.OnGroupMessage",
        "group_open_http_svc/send_group_msg",
    ]
    for secret in (TOKEN, KEY, "Sign", "RequestTime", "usersig"):
        assert secret not in text
    assert calls[0].query["SdkAppid"] == str(sandbox.settings.sdkappid)


async def test_record_then_replay_into_a_fresh_sandbox_gives_the_same_replies(
    chat: Chat, sandbox: InProcessSandbox, botkit_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "session.jsonl"
    path.write_text(await record_session(chat, sandbox), encoding="utf-8")

    fresh = InProcessSandbox(botkit_settings)
    try:
        async with fresh.running(create_app(botkit_settings, transport=fresh.transport)):
            session = await fresh.replay(read_recording(path))
    finally:
        fresh.close()

    assert session.texts == session.recorded_texts
    assert session.texts[0] == "echo: hello"
    assert [call.command for call in session.rest_calls] == [
        "openim/sendmsg",
        "group_open_http_svc/send_group_msg",
    ]


async def test_the_replay_fixture_loads_a_committed_session(replay: ReplayFixture) -> None:
    session = await replay(SESSIONS / "hello.jsonl")

    assert session.texts == ["echo: hello", "echo: what time is it?"]
    assert session.texts == session.recorded_texts


async def test_the_control_api_serves_the_recording_and_replays_it_signed_anew(harness: Harness) -> None:
    await message_robot(harness, "once")
    recording = await harness.client.get("/sandbox/api/recording")
    assert recording.status_code == 200
    harness.clock.advance(3600)

    replayed = await harness.client.post("/sandbox/api/replay", content=recording.content)
    await harness.backend.dispatcher.drain()

    assert replayed.json() == {"replayed": 1}
    first, again = harness.recorder.requests
    assert json.loads(first.content) == json.loads(again.content)
    query = dict(parse_qsl(urlsplit(str(again.url)).query))
    verify_callback(TOKEN, query["Sign"], query["RequestTime"], clock=lambda: harness.clock.now)


async def test_the_control_api_refuses_a_bad_recording_naming_the_line(harness: Harness) -> None:
    response = await harness.client.post("/sandbox/api/replay", content=b'\n{"kind": "callback"}\n')
    assert response.status_code == 422
    assert "line 2" in response.json()["detail"]


def test_a_bad_line_is_a_config_error_with_its_number() -> None:
    with pytest.raises(ConfigError, match="session line 1 is not a recorded call"):
        load_lines("not json\n", source="session")


async def test_replay_callbacks_re_signs_with_the_token_and_time_given() -> None:
    seen: list[httpx.Request] = []

    def bot(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200 if len(seen) == 1 else 403, json={"ErrorCode": 0})

    calls = [
        RecordedCall(kind="callback", time=1, command="Bot.OnC2CMessage", query={"SdkAppid": "1"}, body={}),
        RecordedCall(kind="rest", time=2, command="openim/sendmsg", query={}, body={}),
        RecordedCall(kind="callback", time=3, command="Bot.OnC2CMessage", query={"SdkAppid": "1"}, body={}),
    ]
    async with httpx.AsyncClient(transport=httpx.MockTransport(bot)) as http:
        results = await replay_callbacks(
            calls, http, "http://bot/im?x=1", token="tok", sdkappid=7, clock=lambda: 1000.0
        )

    assert [(result.status, result.ok) for result in results] == [(200, True), (403, False)]
    query = dict(parse_qsl(urlsplit(str(seen[0].url)).query))
    assert query["SdkAppid"] == "7" and query["x"] == "1"
    assert query["CallbackCommand"] == "Bot.OnC2CMessage"
    verify_callback("tok", query["Sign"], query["RequestTime"], clock=lambda: 1000.0)


async def test_an_unreachable_webhook_is_an_error_not_a_crash() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    call = RecordedCall(kind="callback", time=1, command="Bot.OnC2CMessage", query={}, body={})
    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http:
        [result] = await replay_callbacks([call], http, "http://bot/im", token=None)

    assert (result.status, result.ok) == (None, False)
    assert result.error == "ConnectError: refused"
