"""A sandbox and a bot in one event loop, each reaching the other through `httpx.ASGITransport`.

No sockets and no threads: the bot's REST calls go to the sandbox app, the sandbox's callbacks to
the bot app, so a whole exchange can be awaited and checked in a test.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from botkit.app import Wiring, wiring_of
from botkit.config import Settings
from botkit.elements import MsgBody, body_text, dump_body, mention_text, msg_body_adapter, text_body
from botkit.lab.recording import RecordedCall
from botkit.restrequests import GroupAt
from sandbox.app import backend_of, create_backend_app
from sandbox.models import C2CRecord, GroupRecord, config_from_settings
from sandbox.seed import DEMO_GROUP, DEMO_USER, seed_demo
from sandbox.state import SandboxState
from sandbox.traffic import TrafficEntry

BOT_BASE_URL = "http://bot.test"
SANDBOX_BASE_URL = "http://sandbox.test"
_Record = TypeVar("_Record", C2CRecord, GroupRecord)


class _BotSlot:
    """The bot as an ASGI app plugged in after the sandbox app is built.

    The sandbox needs a transport to the bot before the bot, which needs a transport to the
    sandbox, can exist; the slot breaks that cycle.
    """

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            raise RuntimeError("no bot is plugged in: use `async with InProcessSandbox.running(bot_app)`")
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class Replay:
    """The bot's REST calls during a replay, next to the ones in the recording, both oldest first."""

    rest_calls: list[RecordedCall]
    recorded_rest_calls: list[RecordedCall]

    @property
    def texts(self) -> list[str]:
        """The text of each message the bot sent (sendmsg and send_group_msg), in order."""
        return _texts(self.rest_calls)

    @property
    def recorded_texts(self) -> list[str]:
        return _texts(self.recorded_rest_calls)


_SENDS = ("openim/sendmsg", "group_open_http_svc/send_group_msg")


def _texts(calls: list[RecordedCall]) -> list[str]:
    sent = [call.body for call in calls if call.command in _SENDS and isinstance(call.body, dict)]
    return [body_text(msg_body_adapter.validate_python(body.get("MsgBody", []))) for body in sent]


class InProcessSandbox:
    """A sandbox for the app in `settings`: its robots, `user`, and a Public `group` holding both.

    Give the bot `transport` (as its REST transport), then run both with `running(bot_app)`;
    `clock` is the sandbox's time (message times, the stream rules, the traffic log).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        user: str = DEMO_USER,
        group: str = DEMO_GROUP,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.user = user
        self.group = group
        self.robot = settings.robots[0]
        self.state = SandboxState()
        self.state.set_config(
            config_from_settings(settings, webhook_url=BOT_BASE_URL + settings.callback_path)
        )
        seed_demo(self.state, settings.robots, user=user, group=group)
        self._slot = _BotSlot()
        self.app = create_backend_app(
            self.state, transport=httpx.ASGITransport(app=self._slot), rng=rng, clock=clock
        )
        self.backend = backend_of(self.app)
        self.transport = httpx.ASGITransport(app=self.app)
        self.bot: Starlette | None = None
        self._wiring: Wiring | None = None

    def __repr__(self) -> str:
        return f"InProcessSandbox(sdkappid={self.settings.sdkappid}, robots={self.settings.robots})"

    @asynccontextmanager
    async def running(self, bot: Starlette) -> AsyncIterator[InProcessSandbox]:
        """Run the sandbox's lifespan, then the bot's (a FastAPI or Starlette app); stop in reverse."""
        self._slot.app = bot
        self.bot = bot
        try:
            self._wiring = wiring_of(bot)
        except TypeError:
            self._wiring = None  # not a botkit app: nothing to wait for beyond the callbacks
        async with self.app.router.lifespan_context(self.app), bot.router.lifespan_context(bot):
            yield self

    def close(self) -> None:
        self.state.close()

    # -- acting as users ------------------------------------------------------------------------

    def add_user(self, user: str) -> None:
        """Import `user` (if new) and make them a member of the demo group."""
        if self.state.account(user) is None:
            self.state.import_account(user)
        self.state.add_member(self.group, user)

    def send_c2c(self, user: str, robot: str, content: str | MsgBody) -> C2CRecord:
        """`user` writes text (or any elements) to `robot` as from a client app; the stored message
        (the callback is on its way)."""
        msg_body = text_body(content) if isinstance(content, str) else content
        body = {"From_Account": user, "To_Account": robot, "MsgBody": dump_body(msg_body)}
        answer = self._execute("openim/sendmsg", body, user)
        record = self.state.c2c_message(user, robot, answer["MsgKey"])
        assert record is not None, "sendmsg answered OK, so the message is stored"
        return record

    def send_group(
        self, user: str, text: str, *, group: str | None = None, at: str | None = None
    ) -> GroupRecord:
        """`user` writes "@<at> text" in `group` (the demo group), @-mentioning `at` (the first robot)."""
        group_id = group or self.group
        robot = at or self.robot
        body = {
            "GroupId": group_id,
            "From_Account": user,
            "MsgBody": dump_body(text_body(mention_text(robot, text))),
            "GroupAtInfo": [GroupAt.member(robot).to_wire()],
        }
        answer = self._execute("group_open_http_svc/send_group_msg", body, user, random_field="Random")
        record = self.state.group_message(group_id, answer["MsgSeq"])
        assert record is not None, "send_group_msg answered OK, so the message is stored"
        return record

    def _execute(
        self, command: str, body: dict[str, Any], user: str, *, random_field: str = "MsgRandom"
    ) -> dict[str, Any]:
        body[random_field] = self.backend.rng.randrange(2**32)
        answer = self.backend.execute(command, body, operator=user, platform="Web")
        if answer["ErrorCode"] != 0:
            raise ValueError(
                f"the sandbox refused {command}: ErrorCode {answer['ErrorCode']} {answer['ErrorInfo']}"
            )
        return answer

    # -- watching the bot -----------------------------------------------------------------------

    async def settle(self) -> None:
        """Wait for pending callbacks and, for a botkit app, until its workers have nothing due."""
        await self.backend.dispatcher.drain()
        if self._wiring is not None:
            await self._wiring.intake.wait_idle()

    def c2c_replies(self, sent: C2CRecord) -> list[C2CRecord]:
        """Messages the recipient of `sent` wrote back after it, oldest first."""
        history = self.state.c2c_history(sent.from_account, sent.to_account)
        newer = _before(history, lambda record: record.msg_key == sent.msg_key)
        return [record for record in newer if record.from_account == sent.to_account][::-1]

    def group_replies(self, sent: GroupRecord, robot: str | None = None) -> list[GroupRecord]:
        """Messages `robot` (the first robot) wrote in the group of `sent` after it, oldest first."""
        author = robot or self.robot
        history = self.state.group_history(sent.group_id, limit=100)
        newer = _before(history, lambda record: record.msg_seq == sent.msg_seq)
        return [record for record in newer if record.from_account == author][::-1]

    async def replay(self, calls: list[RecordedCall]) -> Replay:
        """Send a recording's callbacks to the bot again and settle; the REST calls the bot made."""
        before = self.backend.recording[-1] if self.backend.recording else None
        self.backend.replay(calls)
        await self.settle()
        new = list(self.backend.recording)
        if before is not None:
            new = new[next(i for i, call in enumerate(new) if call is before) + 1 :]
        return Replay(
            rest_calls=[call for call in new if call.kind == "rest"],
            recorded_rest_calls=[call for call in calls if call.kind == "rest"],
        )

    def rest_calls(self, command: str) -> list[TrafficEntry]:
        """The REST calls of "service/command" the sandbox received, oldest first."""
        entries = self.backend.traffic.list(newest_first=False, kind="rest")
        return [entry for entry in entries if urlsplit(entry.url).path == f"/v4/{command}"]

    def callbacks(self) -> list[TrafficEntry]:
        """Every callback attempt, oldest first."""
        return self.backend.traffic.list(newest_first=False, kind="callback")


def _before(newest_first: list[_Record], is_mark: Callable[[_Record], bool]) -> list[_Record]:
    """The records before the first one that `is_mark` picks: those newer than it."""
    newer: list[_Record] = []
    for record in newest_first:
        if is_mark(record):
            break
        newer.append(record)
    return newer
