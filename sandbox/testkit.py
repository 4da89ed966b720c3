"""A pytest plugin: test a bot against an in-process sandbox, with no Tencent account.

Opt in from your top-level conftest.py with `pytest_plugins = ["sandbox.testkit"]`; installing
botkit loads nothing into pytest by itself. Needs pytest-asyncio (the `sandbox` fixture is async).
Fixtures:

- `botkit_settings`: the app, robots (`@RBT#001`), model (`echo`) and store (`memory://`); override it.
- `botkit_local_sandbox`: the `InProcessSandbox` for those settings, before it runs.
- `sandbox_transport`: the `httpx.ASGITransport` a bot uses as its REST transport.
- `botkit_bot`: the `Bot` under test (None: the one `botkit_settings` configure); override it::

      @pytest.fixture
      def botkit_bot():
          from mybot import bot
          return bot

- `botkit_app`: `botkit.create_app(botkit_settings, transport=sandbox_transport, bot=botkit_bot)`;
  override it to test your own app (FastAPI or Starlette)::

      @pytest.fixture
      def botkit_app(botkit_settings, sandbox_transport):
          return create_my_app(botkit_settings, transport=sandbox_transport)

- `sandbox`: the running `InProcessSandbox` (state, traffic log, faults), callbacks going to `botkit_app`.
- `chat`: a `Chat` as the demo user: `reply = await chat.send("hello")`, `await chat.send_group(...)`,
  `chat.as_user("bob")`.
- `replay`: `session = await replay("tests/sessions/hello.jsonl")` sends a recorded session's callbacks
  (from the sandbox's `/sandbox/api/recording`) to your bot; `session.rest_calls` and `session.texts`
  are what the bot sent back, `session.recorded_texts` what it sent when recorded.

Importing this module loads neither gradio nor a model.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

try:
    import pytest_asyncio
except ImportError as missing:
    raise ImportError(
        "the sandbox.testkit plugin needs pytest-asyncio: pip install pytest-asyncio"
    ) from missing

from botkit.app import create_app
from botkit.bot import Bot
from botkit.config import Settings
from botkit.lab.recording import read_recording
from sandbox.chat import Chat, trial_settings
from sandbox.harness import InProcessSandbox, Replay

SDKAPPID = 1400000000
KEY = "botkit-sandbox-test-key"
CALLBACK_TOKEN = "botkit-sandbox-test-token"
ROBOT = "@RBT#001"


@pytest.fixture
def botkit_settings() -> Settings:
    return trial_settings(
        sdkappid=SDKAPPID,
        key=SecretStr(KEY),
        callback_token=SecretStr(CALLBACK_TOKEN),
        robots=[ROBOT],
        llm="echo",
    )


@pytest.fixture
def botkit_local_sandbox(botkit_settings: Settings) -> Iterator[InProcessSandbox]:
    """The sandbox for `botkit_settings`, not yet running (see `sandbox`)."""
    local = InProcessSandbox(botkit_settings)
    yield local
    local.close()


@pytest.fixture
def sandbox_transport(botkit_local_sandbox: InProcessSandbox) -> httpx.ASGITransport:
    return botkit_local_sandbox.transport


@pytest.fixture
def botkit_bot() -> Bot | None:
    return None


@pytest.fixture
def botkit_app(
    botkit_settings: Settings, sandbox_transport: httpx.ASGITransport, botkit_bot: Bot | None
) -> Starlette:
    return create_app(botkit_settings, transport=sandbox_transport, bot=botkit_bot)


@pytest_asyncio.fixture
async def sandbox(
    botkit_local_sandbox: InProcessSandbox, botkit_app: Starlette
) -> AsyncIterator[InProcessSandbox]:
    async with botkit_local_sandbox.running(botkit_app) as running:
        yield running


@pytest.fixture
def chat(sandbox: InProcessSandbox) -> Chat:
    return Chat(sandbox, sandbox.user)


@pytest.fixture
def replay(sandbox: InProcessSandbox) -> Callable[[str | os.PathLike[str]], Awaitable[Replay]]:
    async def run(path: str | os.PathLike[str]) -> Replay:
        return await sandbox.replay(read_recording(Path(path)))

    return run
