"""What tests share: the app's made-up credentials, Tencent's callbacks, a fake clock, scripted
models, and the in-process sandbox as the Chat REST API of a bot that a test builds itself.

Fixtures live in conftest.py; this module holds the plain objects they and the tests import.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx

from botkit import callbacks
from botkit.callbacks import C2CMessage, CallbackQuery, GroupMessage, dump_callback
from botkit.config import Settings
from botkit.elements import body_text, msg_body_adapter, text_body
from botkit.errors import LLMError
from botkit.llm.base import ChatMessage
from botkit.llm.echo import EchoProvider
from sandbox.chat import trial_settings
from sandbox.faults import Faults
from sandbox.harness import InProcessSandbox
from sandbox.traffic import TrafficEntry

SDKAPPID = 1400000000
KEY = "test-secret-key-0123456789abcdef"
TOKEN = "test-callback-token"
ADMIN = "administrator"
ROBOT = "@RBT#001"
USER = "u1"
GROUP = "@TGS#2ABCDEFGH"
SENDMSG = "openim/sendmsg"
SEND_GROUP_MSG = "group_open_http_svc/send_group_msg"


def suite_settings(**overrides: Any) -> Settings:
    """The suite's app: the constants above, the in-process sandbox as the REST API, echo, memory."""
    fields: dict[str, Any] = {"sdkappid": SDKAPPID, "key": KEY, "callback_token": TOKEN, "robots": [ROBOT]}
    return trial_settings(**fields | {"llm": "echo"} | overrides)


# -- Tencent's callbacks ---------------------------------------------------------------------------


def callback_url(
    command: str,
    *,
    path: str = "/im",
    sdkappid: int = SDKAPPID,
    token: str | None = TOKEN,
    request_time: int | None = None,
) -> str:
    """A callback URL with Tencent's query string, signed when a token is given."""
    query = CallbackQuery(
        sdkappid=sdkappid, callback_command=command, client_ip="203.0.113.7", opt_platform="RESTAPI"
    )
    now = request_time if request_time is not None else int(time.time())
    return callbacks.callback_url(path, query.params(), token=token, request_time=now)


def c2c_body(text: str = "hello", *, sender: str = USER, robot: str = ROBOT, seq: int = 1) -> bytes:
    msg_time = 1700000100 + seq
    message = C2CMessage(
        from_account=sender,
        to_account=robot,
        msg_seq=seq,
        msg_random=918273645,
        msg_time=msg_time,
        msg_key=f"{seq}_918273645_{msg_time}",
        error_info="send msg succeed",
        msg_body=text_body(text),
        event_time=msg_time * 1000 + 123,
    )
    return json.dumps(dump_callback(message)).encode()


def group_body(
    text: str = f"@{ROBOT} hello",
    *,
    sender: str = USER,
    robots: list[str] | None = None,
    group: str = GROUP,
    seq: int = 42,
) -> bytes:
    message = GroupMessage(
        group_id=group,
        type="Public",
        from_account=sender,
        operator_account=sender,
        random=55667788,
        msg_seq=seq,
        msg_time=1700000200,
        msg_body=text_body(text),
        at_robots_account=robots if robots is not None else [ROBOT],
        event_time=1700000200456,
    )
    return json.dumps(dump_callback(message)).encode()


# -- time ------------------------------------------------------------------------------------------


class FakeClock:
    """Time that a test controls: read it by calling it, move it with `advance` or by setting `now`.

    `sleep` waits no real time: it records the delay, moves the clock by it (unless `frozen`, where
    time stands still however long the code sleeps) and lets other tasks run, as a real sleep would.
    """

    def __init__(self, now: float = 0.0, *, frozen: bool = False) -> None:
        self.now = now
        self.frozen = frozen
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if not self.frozen:
            self.now += seconds
        await asyncio.sleep(0)


def real_time_clock() -> FakeClock:
    """A fake clock that starts at the real time (whole seconds), so real UserSigs are valid under it."""
    return FakeClock(float(int(time.time())))


# -- models ----------------------------------------------------------------------------------------


class RecordingEcho(EchoProvider):
    """The echo model ("echo: <question>"), keeping every prompt it was given."""

    def __init__(self) -> None:
        self.prompts: list[list[ChatMessage]] = []

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        self.prompts.append(list(messages))
        async for chunk in super().stream(messages):
            yield chunk


class Scripted:
    """Answers from a table keyed by the question (or, given `chunks`, always those); keeps every prompt."""

    def __init__(
        self,
        answers: Mapping[str, str] | None = None,
        *,
        chunks: Iterable[str] = (),
        name: str = "scripted",
    ) -> None:
        self.name = name
        self.answers = dict(answers or {})
        self.chunks = list(chunks)
        self.prompts: list[list[ChatMessage]] = []

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        self.prompts.append(list(messages))
        if self.answers:
            yield self.answers[messages[-1].content]
        for chunk in self.chunks:
            yield chunk


class Failing:
    """A model that is down: every answer fails with `LLMError`."""

    name = "failing"

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        raise LLMError("model down")
        yield ""  # pragma: no cover - makes this an async generator


class Hanging:
    """A model that never answers (until the task is cancelled)."""

    name = "hanging"

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        await asyncio.Event().wait()
        yield "never"  # pragma: no cover


# -- the sandbox as the bot's Chat REST API --------------------------------------------------------


def sandbox_chat_api(settings: Settings) -> InProcessSandbox:
    """An in-process sandbox for the app in `settings`, not yet running: its robots, USER, and
    GROUP holding them. Give a bot `transport=local.transport` and run it with `local.running(app)`:
    each REST call then passes the sandbox's checks, as with Tencent. `add_user` adds another user."""
    return InProcessSandbox(settings, user=USER, group=GROUP)


def rest_traffic(local: InProcessSandbox) -> list[TrafficEntry]:
    """Every REST call the sandbox received, any command, accepted or not, oldest first."""
    return local.backend.traffic.list(newest_first=False, kind="rest")


def error_codes(local: InProcessSandbox, command: str = SENDMSG) -> list[int]:
    """The ErrorCode the sandbox answered to each `command` call, oldest first."""
    return [entry.response["ErrorCode"] for entry in local.rest_calls(command)]


def sent(local: InProcessSandbox, command: str = SENDMSG) -> list[dict[str, Any]]:
    """The bodies of the `command` calls the sandbox accepted (ErrorCode 0), oldest first."""
    return [entry.request for entry in local.rest_calls(command) if entry.response["ErrorCode"] == 0]


def sent_texts(local: InProcessSandbox, command: str = SENDMSG) -> list[str]:
    """The text of each message the sandbox accepted from the bot, oldest first."""
    return [body_text(msg_body_adapter.validate_python(body["MsgBody"])) for body in sent(local, command)]


class FirstDrawsFail(random.Random):
    """A random source whose first `count` draws of `random()` are 0.0, so a fault at any rate
    fires, then 1.0, so none does; `randrange()` still draws random bits."""

    def __init__(self, count: int) -> None:
        super().__init__(0)
        self.left = count

    def random(self) -> float:
        if self.left:
            self.left -= 1
            return 0.0
        return 1.0

    def getrandbits(self, k: int) -> int:
        # Defined here so that randrange() keeps drawing bits, not the scripted random().
        return super().getrandbits(k)


def fail_rest_calls(local: InProcessSandbox, code: int, *, times: int | None = None) -> None:
    """The next `times` REST calls (every one, if None) fail with Tencent's `code` and change nothing."""
    local.backend.faults = Faults(rest_failure_rate=1.0 if times is None else 0.5, rest_failure_code=code)
    if times is not None:
        local.backend.rng = FirstDrawsFail(times)


class ByHost(httpx.AsyncBaseTransport):
    """Each request to the transport for its host, the rest to `default`: the sandbox for Chat,
    say, and a scripted handler for a model API we don't fake."""

    def __init__(
        self, default: httpx.AsyncBaseTransport, hosts: Mapping[str, httpx.AsyncBaseTransport]
    ) -> None:
        self.default = default
        self.hosts = dict(hosts)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.hosts.get(request.url.host, self.default)
        return await transport.handle_async_request(request)


class KeepsUserSigs(httpx.AsyncBaseTransport):
    """Passes every request on to `inner`, keeping the UserSig of each, so logs can be searched for them."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.usersigs: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if usersig := request.url.params.get("usersig"):
            self.usersigs.add(usersig)
        return await self.inner.handle_async_request(request)


@asynccontextmanager
async def loop_turns(interval: float = 0.0) -> AsyncIterator[Callable[[], int]]:
    """Count the turns a task waking every `interval` s gets meanwhile: an await that blocks the
    event loop leaves the count where it started. Yields the count's reader."""
    turns = 0

    async def tick() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(interval)

    ticker = asyncio.create_task(tick())
    try:
        yield lambda: turns
    finally:
        ticker.cancel()
