"""`Chat`: talk to a bot through an `InProcessSandbox` as a user and get its reply, for tests; `try_bot`
starts a `Bot` in its own sandbox and returns such a chat, for notebooks.

Each send waits for the reply by settling the sandbox (callbacks delivered, botkit's workers idle)
and reading the stored history, until the deadline; a missing reply is a `TimeoutError` that says
what the traffic log saw instead.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from botkit.app import create_app
from botkit.bot import Bot
from botkit.config import Settings
from botkit.elements import MsgBody, body_text
from botkit.lab.waiting import await_until
from botkit.llm.base import Provider
from sandbox.harness import SANDBOX_BASE_URL, InProcessSandbox
from sandbox.models import C2CRecord, GroupRecord
from sandbox.traffic import TrafficEntry

DEFAULT_TIMEOUT = 10.0
POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Reply:
    """A message the bot sent, as the sandbox stored it."""

    text: str
    sender: str
    body: MsgBody
    record: C2CRecord | GroupRecord


class Chat:
    """One user talking to one robot: 1:1 with `send`, or @-mentioning it in a group with `send_group`."""

    def __init__(
        self,
        local: InProcessSandbox,
        user: str,
        *,
        robot: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.local = local
        self.user = user
        self.robot = robot or local.robot
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Chat(user={self.user!r}, robot={self.robot!r})"

    def as_user(self, user: str) -> Chat:
        """The same chat as another user, imported and added to the demo group if new."""
        self.local.add_user(user)
        return Chat(self.local, user, robot=self.robot, timeout=self.timeout)

    async def send(self, content: str | MsgBody) -> Reply:
        """Send text (or any elements) 1:1 to the robot and return its (first) reply."""
        mark = self.local.backend.traffic.version
        sent = self.local.send_c2c(self.user, self.robot, content)
        return await self._reply(lambda: self.local.c2c_replies(sent), mark, "1:1")

    async def send_group(self, text: str, *, group: str | None = None) -> Reply:
        """Send "@robot text" in `group` (the demo group) and return the robot's (first) reply there."""
        mark = self.local.backend.traffic.version
        sent = self.local.send_group(self.user, text, group=group, at=self.robot)
        return await self._reply(lambda: self.local.group_replies(sent, self.robot), mark, sent.group_id)

    async def _reply(
        self, find: Callable[[], Sequence[C2CRecord | GroupRecord]], mark: int, where: str
    ) -> Reply:
        async def reply() -> Reply | None:
            await self.local.settle()
            found = find()
            return _as_reply(found[0]) if found else None

        def seen() -> str:
            entries = self.local.backend.traffic.list(newest_first=False)
            return f"; {describe_traffic([entry for entry in entries if entry.id > mark])}"

        return await await_until(
            reply,
            timeout=self.timeout,
            failure=f"no reply from {self.robot} to {self.user} ({where})",
            interval=POLL_SECONDS,
            explain=seen,
        )


def _as_reply(record: C2CRecord | GroupRecord) -> Reply:
    return Reply(body_text(record.body), record.from_account, record.body, record)


def describe_traffic(entries: Sequence[TrafficEntry]) -> str:
    """One line on what reached the bot and what it called, with the failures."""
    callbacks = sum(entry.kind == "callback" for entry in entries)
    summary = f"{callbacks} callback(s) sent, {len(entries) - callbacks} REST call(s) received"
    failures = [f"{_name(entry)}: {entry.error}" for entry in entries if entry.error]
    return summary + "".join(f"; {failure}" for failure in failures[-5:])


def _name(entry: TrafficEntry) -> str:
    if entry.kind == "rest":
        return urlsplit(entry.url).path.removeprefix("/v4/")
    command = entry.request.get("CallbackCommand") if isinstance(entry.request, dict) else None
    return f"callback {command or ''}".rstrip()


TRY_SDKAPPID = 1400000000
TRIAL_TIMEOUT = 120.0


def trial_settings(**overrides: Any) -> Settings:
    """Settings for a made-up app in an in-process sandbox: robot `@RBT#001`, memory store, and the
    model `botkit serve` would pick here (the local one when installed); `overrides` win."""
    fields: dict[str, Any] = {
        "sdkappid": TRY_SDKAPPID,
        "key": SecretStr(secrets.token_hex(16)),
        "callback_token": SecretStr(secrets.token_hex(16)),
        "api_base": SANDBOX_BASE_URL,
        "robots": ["@RBT#001"],
        "store": "memory://",
    }
    return Settings(**{**fields, **overrides})


class Trial(Chat):
    """A `Chat` with a bot in its own in-process sandbox; `close()` (or `async with`) stops both."""

    def __init__(self, local: InProcessSandbox, stack: AsyncExitStack, *, timeout: float) -> None:
        super().__init__(local, local.user, timeout=timeout)
        self._stack = stack

    async def close(self) -> None:
        await self._stack.aclose()
        self.local.close()

    async def __aenter__(self) -> Trial:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def traffic(self) -> list[TrafficEntry]:
        """Every raw callback and REST call so far, oldest first."""
        return self.local.backend.traffic.list(newest_first=False)


async def try_bot(
    bot: Bot,
    settings: Settings | None = None,
    *,
    provider: Provider | None = None,
    timeout: float = TRIAL_TIMEOUT,
) -> Trial:
    """Start `bot` against a fresh in-process sandbox and return a chat with it, for notebooks and
    tests: `chat = await try_bot(bot)`, `reply = await chat.send("hi")`, `chat.traffic()`. A reply
    has `timeout` seconds to come: an embedded model on a busy laptop takes its time."""
    local = InProcessSandbox(settings or trial_settings())
    app = create_app(local.settings, transport=local.transport, provider=provider, bot=bot)
    stack = AsyncExitStack()
    try:
        await stack.enter_async_context(local.running(app))
    except BaseException:
        local.close()
        raise
    return Trial(local, stack, timeout=timeout)
