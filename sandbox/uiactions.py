"""The chat UI's event handlers as plain methods over one `Backend`: no Gradio, so tests call them directly.

Each returns the new values of its outputs, in order. `Keep.SHOWN` leaves an output as the browser
shows it (so the one-second refresh repaints nothing when nothing changed), and `Choices` refills a
dropdown; `sandbox.ui` turns both into Gradio updates.

Commands are `async def`: Gradio runs those on the app's event loop, where the dispatcher schedules
the callbacks they cause. Reads are plain functions and may run in Gradio's worker threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from fastapi import HTTPException
from pydantic import ValidationError

from botkit.restmodels import MAX_UINT32, RestCommand
from botkit.restrequests import AccountImportRequest, CreateRobotRequest
from sandbox import uiviews as views
from sandbox.backend import Backend
from sandbox.botchild import BotChild
from sandbox.control import ConfigUpdate, config_view, send_body, updated_config
from sandbox.faults import Faults
from sandbox.seed import DEMO_GROUP, DEMO_GROUP_NAME
from sandbox.traffic import TrafficEntry
from sandbox.uifates import fates
from sandbox.uiviews import ChatTurn, Target


class Keep(Enum):
    SHOWN = "shown"


@dataclass(frozen=True)
class Choices:
    """A dropdown's (label, value) options and its selected value."""

    options: list[tuple[str, str]]
    value: str | None

    @classmethod
    def of(cls, options: list[tuple[str, str]], current: str | None) -> Choices:
        """Keep `current` selected while it is still offered, else select the first option."""
        values = [value for _, value in options]
        return cls(options, current if current in values else (values[0] if values else None))


def _problems(errors: Any) -> str:
    """Pydantic's error list (also an `HTTPException.detail` from control.py) as one line."""
    return "⚠️ " + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)


class UiActions:
    """`bot` is the `botkit serve` child the sandbox started, if it started one."""

    def __init__(self, backend: Backend, bot: BotChild | None = None) -> None:
        self.backend = backend
        self.state = backend.state
        self.bot = bot

    # -- chat --------------------------------------------------------------------------------------

    def identities(self, current: str | None) -> Choices:
        return Choices.of([(name, name) for name in views.users(self.state)], current)

    def targets(self, user: str | None, current: str | None) -> Choices:
        return Choices.of(views.chat_targets(self.state, user) if user else [], current)

    def chat(
        self, user: str | None, target_value: str | None, shown: str
    ) -> tuple[list[ChatTurn] | Keep, str | Keep]:
        """The conversation and its digest, or `Keep.SHOWN` for both while `shown` (the digest of
        what the page shows) still matches."""
        target = Target.parse(target_value)
        if not user or target is None:
            turns = []
        else:
            records = views.history(self.state, user, target)
            traffic = self.backend.traffic.list(newest_first=False)
            told = fates(records, user, traffic, self.backend.clock())
            turns = views.chat_messages(records, user, told, typing=self._robot_of(target) or "")
        digest = views.chat_digest(turns)
        return (Keep.SHOWN, Keep.SHOWN) if digest == shown else (turns, digest)

    def _robot_of(self, target: Target) -> str | None:
        if target.kind == "c2c":
            return target.peer
        return next(iter(views.group_robots(self.state, target.peer)), None)

    async def send(self, user: str | None, target_value: str | None, text: str) -> tuple[str | Keep, str]:
        """Send as `user`, as a client SDK would: same checks and callbacks as REST. (message box, status)"""
        target = Target.parse(target_value)
        if not user or target is None:
            return Keep.SHOWN, "⚠️ Pick who you are and who to chat with first."
        if not text.strip():
            return Keep.SHOWN, ""
        try:
            request = views.send_request(self.state, user, target, text)
        except ValueError as exc:
            return Keep.SHOWN, f"⚠️ {exc}"
        command, body = send_body(request, self.backend.rng.randrange(MAX_UINT32 + 1))
        answer = self.backend.execute(command, body, operator=user, platform="Web")
        done = ""
        if request.kind == "group":
            done = (
                f"Sent as a Tencent client sends a mention: the text starts @{request.at[0]} and "
                "GroupAtInfo names it."
            )
        status = views.outcome(answer, done)
        return ("" if answer.get("ErrorCode") == 0 else Keep.SHOWN), status

    async def create_user(self, name: str) -> tuple[Choices | Keep, str | Keep, str]:
        """(identity dropdown, new-user box, status); the new user becomes the identity and joins
        the demo group, so switching to them keeps a group to chat in."""
        user_id = name.strip()
        answer = self.backend.execute(
            RestCommand.ACCOUNT_IMPORT, AccountImportRequest(user_id=user_id).to_wire()
        )
        if answer["ErrorCode"] != 0:
            return Keep.SHOWN, Keep.SHOWN, views.outcome(answer, "")
        if self.state.group(DEMO_GROUP) is None:
            return self.identities(user_id), "", f"Created user {user_id}."
        self.state.add_member(DEMO_GROUP, user_id)
        return self.identities(user_id), "", f"Created user {user_id}, a member of {DEMO_GROUP_NAME}."

    async def create_group(
        self, user: str | None, target_value: str | None, name: str
    ) -> tuple[Choices | Keep, str | Keep, str]:
        """(chat-with dropdown, group-name box, status): a group of the user and the robot chatted with
        (else the first robot), which becomes the chat."""
        target = Target.parse(target_value)
        robots = [robot.user_id for robot in self.state.robots()]
        robot = target.peer if target is not None and target.kind == "c2c" else next(iter(robots), None)
        if not user or robot is None:
            return Keep.SHOWN, Keep.SHOWN, "⚠️ A group needs a user and at least one robot."
        body = views.new_group_body(user, robot, name)
        answer = self.backend.execute(RestCommand.CREATE_GROUP, body)
        if answer["ErrorCode"] != 0:
            return Keep.SHOWN, Keep.SHOWN, views.outcome(answer, "")
        group = Target("group", answer["GroupId"])
        return self.targets(user, group.value), "", f"Created group {group.peer} with {robot}."

    # -- inspector ---------------------------------------------------------------------------------

    def _entries(self, kind: str) -> list[TrafficEntry]:
        """Newest first; `kind` is "all", "callback" or "rest"."""
        entries = self.backend.traffic.list()
        return entries if kind == "all" else [entry for entry in entries if entry.kind == kind]

    def inspector(self, selected: int | None, kind: str) -> tuple[list[list[Any]], dict[str, Any], int]:
        """(table rows, the selected entry or the newest, the traffic version they show)."""
        version = self.backend.traffic.version
        entries = self._entries(kind)
        return views.traffic_rows(entries), views.entry_detail(entries, selected), version

    def select(self, kind: str, entry_id: int) -> tuple[int, dict[str, Any]]:
        return entry_id, views.entry_detail(self._entries(kind), entry_id)

    def clear_traffic(self, kind: str) -> tuple[list[list[Any]], dict[str, Any], int, None]:
        self.backend.traffic.clear()
        return (*self.inspector(None, kind), None)

    def tick(
        self,
        user: str | None,
        target: str | None,
        shown: str,
        seen: int,
        selected: int | None,
        kind: str,
    ) -> tuple[Any, ...]:
        """The timer: chat, inspector and banner, each `Keep.SHOWN` when unchanged, so nothing
        flickers; then the bot's log."""
        unchanged = self.backend.traffic.version == seen
        inspector = (Keep.SHOWN,) * 3 if unchanged else self.inspector(selected, kind)
        return (*self.chat(user, target, shown), *inspector, self.banner(), self.bot_log())

    def banner(self) -> str:
        """The bot's state, and a warning while faults are on."""
        config = self.state.config
        lines = [views.bot_state(self.bot, config.webhook_url)]
        faults = views.fault_banner(self.backend.faults, config.callback_retries)
        return "\n\n".join([*lines, faults] if faults else lines)

    def bot_log(self) -> str:
        if self.bot is None:
            return "The sandbox did not start the bot (--webhook-url): its output is wherever it runs."
        return "\n".join(self.bot.log_lines()) or "(the bot has printed nothing yet)"

    # -- settings and faults -----------------------------------------------------------------------

    def settings(self) -> tuple[str, bool, str, str, list[list[str]]]:
        """(webhook URL, auth on, token box (always blank), summary, robot rows)."""
        view = config_view(self.backend)
        robots = [[robot.user_id, robot.nick] for robot in self.state.robots()]
        return view.webhook_url or "", view.callback_token_set, "", views.settings_summary(view), robots

    async def save_settings(self, url: str, auth_on: bool, token: str) -> tuple[Any, ...]:
        if auth_on and not token and self.state.config.callback_token is None:
            return (*(Keep.SHOWN,) * 5, "⚠️ Enter a callback token to turn callback auth on.")
        try:
            self.state.set_config(updated_config(self.state.config, views.config_update(url, auth_on, token)))
        except HTTPException as exc:
            return (*(Keep.SHOWN,) * 5, _problems(exc.detail))
        return (*self.settings(), "Saved.")

    async def create_robot(self, robot_id: str, nick: str) -> tuple[Any, ...]:
        request = CreateRobotRequest(user_id=robot_id.strip(), nick=nick.strip())
        answer = self.backend.execute(RestCommand.CREATE_ROBOT, request.to_wire())
        return (*self.settings(), views.outcome(answer, f"Robot {robot_id.strip()} is ready."))

    def faults(self) -> tuple[float, float, float, float, float, int, float, int, str]:
        """(delay, delay/drop/duplicate/reorder rates, retries on timeout, REST failure rate and code,
        summary): the `FAULT_FIELDS` order."""
        faults, retries = self.backend.faults, self.state.config.callback_retries
        summary = views.faults_summary(faults, retries)
        return (
            faults.delay_callbacks_seconds,
            faults.delay_rate,
            faults.drop_rate,
            faults.duplicate_rate,
            faults.reorder_rate,
            retries,
            faults.rest_failure_rate,
            faults.rest_failure_code,
            summary,
        )

    async def apply_faults(
        self,
        delay: float,
        delay_rate: float,
        drop: float,
        duplicate: float,
        reorder: float,
        retries: float,
        rate: float,
        code: float,
    ) -> str:
        """Replace the faults and the retry count; the summary, or why the values were refused."""
        try:
            faults = Faults(
                delay_callbacks_seconds=delay,
                delay_rate=delay_rate,
                drop_rate=drop,
                duplicate_rate=duplicate,
                reorder_rate=reorder,
                rest_failure_rate=rate,
                rest_failure_code=int(code),
            )
            config = updated_config(self.state.config, ConfigUpdate(callback_retries=int(retries)))
        except ValidationError as exc:
            return _problems(exc.errors())
        except HTTPException as exc:
            return _problems(exc.detail)
        self.backend.faults = faults
        self.state.set_config(config)
        return views.faults_summary(faults, config.callback_retries)
