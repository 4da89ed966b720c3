"""Two real processes over loopback: `python -m sandbox` and the `botkit serve` it starts.

A message goes in through the sandbox's control API; the bot's reply is read back through the
REST history commands, as a client of a real Tencent app would. The acceptance check for `botkit
serve` POSTs a signed callback to it and watches what reaches the REST API it was given.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

import httpx
import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from botkit.callbacks import ACK_BODY
from botkit.cli import cli
from botkit.elements import body_text, mention_text
from botkit.lab.processes import ChildExited, ChildProcess, free_port
from botkit.lab.sandboxprocess import SandboxProcess
from botkit.lab.waiting import await_until
from botkit.restapi import ChatClient
from botkit.usersig import verify_usersig
from sandbox.app import create_backend_app
from sandbox.botchild import BotChild
from sandbox.models import SandboxConfig
from sandbox.state import SandboxState
from tests.servers import serve_in_thread
from tests.support import KEY, SDKAPPID, TOKEN, c2c_body, callback_url

T = TypeVar("T")
DEADLINE_SECONDS = 30.0
ECHO = {"BOTKIT_LLM": "echo"}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """One sandbox (with its bot) for the module, away from the developer's BOTKIT_* and .env."""
    home = tmp_path_factory.mktemp("cross-process")
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("BOTKIT_")]:
            patch.delenv(name)
        with SandboxProcess(home / "data", env=ECHO, cwd=home) as sandbox:
            yield sandbox


async def until(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll `probe` until it returns something, or fail naming `what` after the deadline."""
    return await await_until(probe, timeout=DEADLINE_SECONDS, failure=f"no {what}")


def test_botkit_sandbox_help_names_its_options() -> None:
    result = CliRunner().invoke(cli, ["sandbox", "--help"])

    assert result.exit_code == 0
    for option in ("--port", "--webhook-url", "--data-dir"):
        assert option in result.output


def test_python_m_sandbox_help_names_its_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "--help"], capture_output=True, text=True, check=True
    )

    for option in ("--host", "--port", "--webhook-url", "--data-dir", "BOTKIT_ROBOTS"):
        assert option in result.stdout


@pytest.mark.slow
def test_startup_prints_the_ui_url_and_the_app(running: SandboxProcess) -> None:
    output = running.output()

    assert f"UI:           {running.base_url}/" in output
    assert f"SDKAppID:     {running.app.sdkappid} " in output
    assert f"bot webhook:  {running.webhook_url} " in output
    assert running.app.robots == ["@RBT#001"]
    assert running.app.key.get_secret_value() not in output


@pytest.mark.slow
async def test_a_user_message_is_answered_and_readable_with_admin_getroammsg(running: SandboxProcess) -> None:
    robot = running.app.robots[0]
    async with httpx.AsyncClient(base_url=running.base_url, trust_env=False, timeout=10) as http:
        chat = ChatClient.from_settings(running.settings(), http)
        message = {"kind": "c2c", "from_account": running.demo_user, "to": robot, "text": "hello"}
        sent = (await http.post("/sandbox/api/send", json=message)).json()
        assert sent["ErrorCode"] == 0

        async def reply() -> Any:
            history = await chat.admin_getroammsg(running.demo_user, robot)
            return next((m for m in history.msg_list if m.from_account == robot), None)

        answer = await until(reply, f"reply from {robot} in admin_getroammsg")

    assert answer.to_account == running.demo_user
    assert answer.msg_body[0].msg_content.text == "echo: hello"


@pytest.mark.slow
async def test_a_group_mention_is_answered_and_readable_with_group_msg_get_simple(
    running: SandboxProcess,
) -> None:
    robot = running.app.robots[0]
    async with httpx.AsyncClient(base_url=running.base_url, trust_env=False, timeout=10) as http:
        chat = ChatClient.from_settings(running.settings(), http)
        message = {
            "kind": "group",
            "from_account": running.demo_user,
            "to": running.demo_group,
            "text": mention_text(robot, "hello group"),
            "at": [robot],
        }
        assert (await http.post("/sandbox/api/send", json=message)).json()["ErrorCode"] == 0

        async def reply() -> Any:
            history = await chat.group_msg_get_simple(running.demo_group)
            return next((m for m in history.rsp_msg_list if m.from_account == robot), None)

        answer = await until(reply, f"reply from {robot} in group_msg_get_simple")

    text = answer.msg_body[0].msg_content.text
    assert text.startswith(f"@{running.demo_user} ")
    assert "hello group" in text


@pytest.mark.slow
def test_stopping_the_sandbox_stops_its_bot(tmp_path: Path) -> None:
    sandbox = SandboxProcess(tmp_path / "data", env=ECHO, cwd=tmp_path).start()
    bot_url = httpx.get(f"{sandbox.base_url}/sandbox/api/health", trust_env=False).json()["bot"]["url"]

    sandbox.stop()

    assert not sandbox.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{bot_url}/healthz", trust_env=False)
    assert "bot | " in sandbox.output()
    assert "exited with code" not in sandbox.output()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"BOTKIT_SDKAPPID": "not-a-number"},
            ["the sandbox (python -m sandbox) exited with code 2", "BOTKIT_SDKAPPID"],
        ),
        (
            {"BOTKIT_LLM": "openai"},
            [
                "the bot (botkit serve) exited with code",
                "bot | Error: BOTKIT_LLM=openai needs BOTKIT_LLM_API_KEY",
                "sandbox: the bot (botkit serve, pid",
            ],
        ),
    ],
    ids=["sandbox-refuses-its-config", "bot-dies-at-startup"],
)
def test_a_failed_start_is_reported_with_the_output(
    tmp_path: Path, env: dict[str, str], expected: list[str]
) -> None:
    sandbox = SandboxProcess(tmp_path / "data", env=env, cwd=tmp_path, startup_timeout=DEADLINE_SECONDS)

    with pytest.raises(ChildExited) as caught:
        sandbox.start()

    for text in expected:
        assert text in str(caught.value)
    assert not sandbox.running


# -- acceptance: a signed callback to `botkit serve` -------------------------------------------


class QueryRecorder:
    """ASGI middleware that keeps the path and query string of every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append((scope["path"], scope["query_string"].decode()))
        await self.app(scope, receive, send)

    def sendmsg_queries(self) -> list[dict[str, list[str]]]:
        return [parse_qs(query) for path, query in self.seen if path == "/v4/openim/sendmsg"]


@pytest.fixture
def rest_api() -> Iterator[tuple[str, QueryRecorder, SandboxState]]:
    """A sandbox REST API served by uvicorn in a thread, with u1 and @RBT#001, recording queries."""
    state = SandboxState()
    state.set_config(SandboxConfig(sdkappid=SDKAPPID, key=SecretStr(KEY)))
    state.import_account("u1")
    state.create_robot("@RBT#001")
    recorder = QueryRecorder(create_backend_app(state))
    with serve_in_thread(recorder) as url:
        yield url, recorder, state
    state.close()


@pytest.fixture
def botkit_serve(rest_api: tuple[str, QueryRecorder, SandboxState], tmp_path: Path) -> Iterator[BotChild]:
    api_base = rest_api[0]
    env = {
        "BOTKIT_SDKAPPID": str(SDKAPPID),
        "BOTKIT_KEY": KEY,
        "BOTKIT_CALLBACK_TOKEN": TOKEN,
        "BOTKIT_API_BASE": api_base,
        "BOTKIT_ROBOTS": "@RBT#001",
        "BOTKIT_LLM": "echo",
        "BOTKIT_STORE": f"sqlite:///{tmp_path / 'bot.db'}",
    }
    lines: list[str] = []
    bot = BotChild(env, port=free_port(), out=lines.append)
    bot.start()
    try:
        failure = bot.wait_ready(DEADLINE_SECONDS)
        assert failure is None, failure + "\n" + "\n".join(lines)
        yield bot
    finally:
        bot.stop()


@pytest.mark.slow
async def test_a_signed_callback_to_botkit_serve_is_acked_at_once_and_answered_once(
    botkit_serve: BotChild, rest_api: tuple[str, QueryRecorder, SandboxState]
) -> None:
    _, recorder, state = rest_api
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:

        async def post(body: bytes) -> tuple[httpx.Response, float]:
            started = time.perf_counter()
            response = await http.post(
                callback_url("Bot.OnC2CMessage", path=botkit_serve.webhook_url), content=body
            )
            return response, time.perf_counter() - started

        async def sent(count: int) -> list[dict[str, list[str]]] | None:
            queries = recorder.sendmsg_queries()
            return queries if len(queries) >= count else None

        acked, seconds = await post(c2c_body("hello", sender="u1", seq=1))
        await until(lambda: sent(1), "sendmsg for the first message")
        repeat, _ = await post(c2c_body("hello", sender="u1", seq=1))
        await post(c2c_body("ping", sender="u1", seq=2))
        queries = await until(lambda: sent(2), "sendmsg for the second message")

    assert (acked.status_code, acked.json()) == (200, ACK_BODY)
    assert seconds < 1.0
    assert repeat.json() == ACK_BODY
    assert len(queries) == 2
    for query in queries:
        assert query["identifier"] == ["administrator"]
        verify_usersig(query["usersig"][0], sdkappid=SDKAPPID, key=SecretStr(KEY), identifier="administrator")
    replies = [r for r in state.c2c_history("u1", "@RBT#001") if r.from_account == "@RBT#001"]
    assert sorted(r.to_account for r in replies) == ["u1", "u1"]
    assert sorted(body_text(r.body) for r in replies) == ["echo: hello", "echo: ping"]


@pytest.mark.slow
def test_terminating_botkit_sandbox_stops_the_sandbox_and_its_bot(tmp_path: Path) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "botkit",
        "sandbox",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "d"),
    ]
    child = ChildProcess("botkit sandbox", command, env=ECHO, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"

    def bot_url() -> str | None:
        try:
            health = httpx.get(f"{base}/sandbox/api/health", trust_env=False).json()
        except httpx.TransportError:
            return None
        return (health.get("bot") or {}).get("url")

    child.start()
    try:
        url = child.wait_until(bot_url, timeout=DEADLINE_SECONDS, failure="botkit sandbox was not ready")
    finally:
        child.stop(DEADLINE_SECONDS)  # SIGTERM, as a user's Ctrl-C or a service manager sends

    assert child.exit_code is not None
    for answered in (f"{base}/sandbox/api/health", f"{url}/healthz"):
        with pytest.raises(httpx.ConnectError):
            httpx.get(answered, trust_env=False)
