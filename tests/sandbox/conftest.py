"""A sandbox app in-process: REST over `ASGITransport`, callbacks to a recording fake bot."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from botkit.callbacks import ACK_BODY
from botkit.elements import dump_body, text_body
from botkit.usersig import generate_usersig
from sandbox.app import backend_of, create_backend_app
from sandbox.backend import Backend
from sandbox.models import SandboxConfig
from sandbox.state import SandboxState
from tests.servers import serve_in_thread
from tests.support import ADMIN, KEY, ROBOT, SDKAPPID, TOKEN, FakeClock, real_time_clock

WEBHOOK = "http://bot.test/im"


Reply = Callable[[httpx.Request], Awaitable[httpx.Response]]


@dataclass
class Recorder:
    """The fake bot webhook: keeps every request and answers the ack, or what `reply` says."""

    requests: list[httpx.Request] = field(default_factory=list)
    reply: Reply | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.reply is not None:
            return await self.reply(request)
        return httpx.Response(200, json=ACK_BODY)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]


@dataclass
class Harness:
    client: httpx.AsyncClient
    backend: Backend
    clock: FakeClock
    recorder: Recorder
    usersig: str

    def url_params(self, **overrides: str | None) -> dict[str, str]:
        params: dict[str, str | None] = {
            "sdkappid": str(SDKAPPID),
            "identifier": ADMIN,
            "usersig": self.usersig,
            "random": "12345",
            "contenttype": "json",
        }
        params |= overrides
        return {name: value for name, value in params.items() if value is not None}

    async def post(
        self,
        command: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        **url: str | None,
    ) -> httpx.Response:
        content = raw if raw is not None else json.dumps({} if body is None else body).encode()
        return await self.client.post(
            f"/v4/{command}", params=self.url_params(**url), content=content, headers=headers or {}
        )

    async def rest(self, command: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        """One REST call; asserts Tencent's HTTP 200 and returns the envelope."""
        response = await self.post(command, body, **kwargs)
        assert response.status_code == 200
        answer: dict[str, Any] = response.json()
        assert {"ActionStatus", "ErrorCode", "ErrorInfo"} <= answer.keys()
        return answer

    async def ok(self, command: str, body: Any = None) -> dict[str, Any]:
        answer = await self.rest(command, body)
        assert answer["ErrorCode"] == 0, answer
        assert answer["ActionStatus"] == "OK"
        return answer

    async def sent_callbacks(self) -> list[dict[str, Any]]:
        """Wait for pending callbacks, then the bodies the fake bot received."""
        await self.backend.dispatcher.drain()
        return self.recorder.bodies()


def text_msg(text: str) -> list[dict[str, Any]]:
    return dump_body(text_body(text))


def make_state(*, token: str | None = TOKEN, path: str = ":memory:") -> SandboxState:
    state = SandboxState(path)
    state.set_config(
        SandboxConfig(
            sdkappid=SDKAPPID,
            key=SecretStr(KEY),
            admin=ADMIN,
            webhook_url=WEBHOOK,
            callback_token=SecretStr(token) if token else None,
        )
    )
    for user in ("alice", "bob"):
        state.import_account(user)
    state.create_robot(ROBOT)
    return state


@pytest.fixture
def clock() -> FakeClock:
    return real_time_clock()


@pytest.fixture
def state() -> Iterator[SandboxState]:
    state = make_state()
    yield state
    state.close()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def harness(state: SandboxState, clock: FakeClock, recorder: Recorder) -> AsyncIterator[Harness]:
    app = create_backend_app(
        state, transport=httpx.MockTransport(recorder), clock=clock, sleep=clock.sleep, rng=random.Random(7)
    )
    usersig = generate_usersig(SDKAPPID, SecretStr(KEY), ADMIN, 86400)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://chat.test") as client,
    ):
        yield Harness(client, backend_of(app), clock, recorder, usersig)


USERS = [f"u{n}" for n in range(1, 9)]
"""The users of the cross-process tests' sandbox (`rest_api`)."""


@pytest.fixture
def rest_api() -> Iterator[str]:
    """The sandbox's REST API on a loopback port, with `USERS` and the robot, for bots in other
    processes (the crash tests)."""
    state = SandboxState()
    state.set_config(SandboxConfig(sdkappid=SDKAPPID, key=SecretStr(KEY)))
    for user in USERS:
        state.import_account(user)
    state.create_robot(ROBOT)
    try:
        with serve_in_thread(create_backend_app(state)) as url:
            yield url
    finally:
        state.close()
