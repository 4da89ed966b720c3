"""What the sandbox UI shows and sends, as plain functions: no Gradio here, so tests need no browser.

Chat turns use Gradio's "messages" shape (`{"role", "content"}`): the chosen identity's messages are
"user" (right), everyone else's "assistant" (left), each headed by its sender's UserID and time,
with what became of it (`uifates`) underneath.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from botkit.callbacks import is_robot
from botkit.elements import mention_text
from botkit.restrequests import CreateGroupRequest, Member
from sandbox.botchild import BotChild
from sandbox.control import ConfigUpdate, ConfigView, SendRequest
from sandbox.faults import Faults
from sandbox.models import C2CRecord, GroupRecord
from sandbox.state import SandboxState
from sandbox.streams import visible_text
from sandbox.traffic import TrafficEntry
from sandbox.uifates import Fate

ChatTurn = dict[str, str]
TRAFFIC_HEADERS = ("#", "time", "kind", "command", "HTTP", "ms", "result")
HISTORY_LIMIT = 100
GROUP_NAME_BYTES = 30


@dataclass(frozen=True)
class Target:
    """Who the user chats with: a robot 1:1 (`peer` is its UserID) or a group (`peer` is the GroupId)."""

    kind: Literal["c2c", "group"]
    peer: str

    @property
    def value(self) -> str:
        """The dropdown value; GroupIds may hold '@' and '#', so the kind goes first, before a colon."""
        return f"{self.kind}:{self.peer}"

    @classmethod
    def parse(cls, value: str | None) -> Target | None:
        kind, _, peer = (value or "").partition(":")
        if kind == "c2c" and peer:
            return cls("c2c", peer)
        if kind == "group" and peer:
            return cls("group", peer)
        return None


def users(state: SandboxState) -> list[str]:
    """Who the UI can speak as: every live non-robot account except the admin (the bot's identity)."""
    admin = state.config.admin
    return [a.user_id for a in state.accounts() if not a.is_robot and not a.deleted and a.user_id != admin]


def group_robots(state: SandboxState, group_id: str) -> list[str]:
    """The live robots among a group's members."""
    return [member for member in state.members(group_id) if is_robot(member) and state.account_exists(member)]


def chat_targets(state: SandboxState, user: str) -> list[tuple[str, str]]:
    """(label, value) choices: every live robot 1:1, then the user's groups that have a robot in them."""
    choices = [(f"{robot.user_id} (1:1)", Target("c2c", robot.user_id).value) for robot in state.robots()]
    for group in state.groups():
        if state.is_member(group.group_id, user) and group_robots(state, group.group_id):
            choices.append((f"{group.name} (group)", Target("group", group.group_id).value))
    return choices


def history(state: SandboxState, user: str, target: Target) -> list[C2CRecord] | list[GroupRecord]:
    """The conversation's stored messages as `user` sees them, oldest first."""
    if target.kind == "c2c":
        return state.c2c_history(user, target.peer, limit=HISTORY_LIMIT)[::-1]
    return state.group_history(target.peer, limit=HISTORY_LIMIT)[::-1]


def clock_time(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def chat_messages(
    records: Sequence[C2CRecord | GroupRecord],
    me: str,
    fates: Sequence[Fate] | None = None,
    typing: str = "",
) -> list[ChatTurn]:
    """Chatbot turns: mine on the right, everyone else's on the left, each with the sender's name
    and time, and its fate's notice; then "`typing` typing…" while a fate says so."""
    fates = fates if fates is not None else [Fate()] * len(records)
    turns = []
    for record, fate in zip(records, fates, strict=True):
        content = f"**{record.from_account}** · {clock_time(record.msg_time)}\n{visible_text(record.body)}"
        if fate.notice:
            content += f"\n\n*{fate.notice}*"
        turns.append({"role": "user" if record.from_account == me else "assistant", "content": content})
    if typing and any(fate.typing for fate in fates):
        turns.append({"role": "assistant", "content": f"**{typing}**\n*typing…*"})
    return turns


def chat_digest(turns: list[ChatTurn]) -> str:
    """A fingerprint of the turns, kept in the browser beside the chat it describes, so the refresh
    compares with what the page really shows."""
    return hashlib.sha256(json.dumps(turns, sort_keys=True).encode()).hexdigest()[:16]


def mention(text: str, robot: str) -> str:
    """The text as a Tencent client sends a mention: "@" + the robot's UserID first, so "@@RBT#001 …"
    (as in the Bot.OnGroupMessage sample, https://trtc.io/document/68953). A person typing the
    robot's ID, "@RBT#001 …" or "@@RBT#001 …", has mentioned it already: it is not added twice."""
    text = text.strip()
    first, _, rest = text.partition(" ")
    if first in (robot, f"@{robot}"):
        text = rest.strip()
    return mention_text(robot, text).rstrip()


def send_request(state: SandboxState, user: str, target: Target, text: str) -> SendRequest:
    """The message as a client would send it; in a group it @-mentions the group's robot by name."""
    if target.kind == "c2c":
        return SendRequest(kind="c2c", from_account=user, to=target.peer, text=text)
    robots = group_robots(state, target.peer)
    if not robots:
        raise ValueError(f"group {target.peer} has no robot to talk to")
    robot = robots[0]
    return SendRequest(kind="group", from_account=user, to=target.peer, text=mention(text, robot), at=[robot])


def new_group_body(owner: str, robot: str, name: str) -> dict[str, Any]:
    """A `create_group` body: a Public group owned by `owner` with `robot` as a member."""
    name = name.strip() or f"{owner} and {robot}"
    while len(name.encode("utf-8")) > GROUP_NAME_BYTES:
        name = name[:-1]
    request = CreateGroupRequest(
        type="Public", name=name, owner_account=owner, member_list=[Member(member_account=robot)]
    )
    return request.to_wire()


def outcome(answer: Mapping[str, Any], done: str) -> str:
    """A one-line status for a command's answer envelope."""
    if answer.get("ErrorCode") == 0:
        return done
    return f"⚠️ ErrorCode {answer.get('ErrorCode')}: {answer.get('ErrorInfo')}"


def _command(entry: TrafficEntry) -> str:
    if entry.kind == "callback" and isinstance(entry.request, dict):
        return str(entry.request.get("CallbackCommand", ""))
    return urlsplit(entry.url).path.removeprefix("/v4/")


def _result(entry: TrafficEntry) -> str:
    if entry.error is not None:
        return entry.error
    if entry.kind == "rest" and isinstance(entry.response, dict):
        return str(entry.response.get("ActionStatus", "OK"))
    return "OK"


def traffic_rows(entries: Iterable[TrafficEntry]) -> list[list[Any]]:
    """One row per entry for the inspector table, in `TRAFFIC_HEADERS` order."""
    return [
        [
            entry.id,
            time.strftime("%H:%M:%S", time.localtime(entry.time)),
            entry.kind,
            _command(entry),
            "—" if entry.status is None else entry.status,
            round(entry.latency_ms, 1),
            _result(entry),
        ]
        for entry in entries
    ]


_SECONDS_FIELDS = ("MsgTime", "MsgTimeStamp")


def readable_times(entry: TrafficEntry) -> dict[str, str]:
    """The entry's own time and the Unix times in its URL and request, as local clock times."""
    stamp = f"{clock_time(entry.time)}.{int(entry.time * 1000) % 1000:03d}"
    found = {"time": time.strftime("%Y-%m-%d ", time.localtime(entry.time)) + stamp}
    request_time = parse_qs(urlsplit(entry.url).query).get("RequestTime", [""])[0]
    if request_time.isdigit():
        found["RequestTime"] = clock_time(int(request_time))
    body = entry.request if isinstance(entry.request, dict) else {}
    for name in _SECONDS_FIELDS:
        if isinstance(body.get(name), int):
            found[name] = clock_time(body[name])
    if isinstance(body.get("EventTime"), int):
        found["EventTime"] = f"{clock_time(body['EventTime'] / 1000)}.{body['EventTime'] % 1000:03d}"
    return found


def entry_detail(entries: list[TrafficEntry], entry_id: int | None) -> dict[str, Any]:
    """The raw entry with that id, else the newest (the first), as JSON-ready data, with its times
    also written as clock times under "readable", right after "time"; {} when none."""
    chosen = next((entry for entry in entries if entry.id == entry_id), entries[0] if entries else None)
    if chosen is None:
        return {}
    raw = chosen.model_dump()
    first = {name: raw.pop(name) for name in ("id", "kind", "time")}
    return first | {"readable": readable_times(chosen)} | raw


def faults_summary(faults: Faults, callback_retries: int) -> str:
    """What is currently broken, in words."""
    active = []
    if faults.drop_rate:
        active.append(f"{_share(faults.drop_rate)} robot callbacks are **dropped**")
    if faults.delay_callbacks_seconds and faults.delay_rate:
        delayed = f"**delayed {faults.delay_callbacks_seconds:g} s**"
        active.append(f"{_share(faults.delay_rate)} callbacks are {delayed}")
    if faults.duplicate_rate:
        active.append(f"{_share(faults.duplicate_rate)} callbacks are **sent twice**")
    if faults.reorder_rate:
        active.append(f"{_share(faults.reorder_rate)} callbacks are **overtaken** by the next one")
    if callback_retries:
        times = "once" if callback_retries == 1 else f"{callback_retries} times"
        active.append(f"timed-out callbacks are **retried {times}**")
    if faults.rest_failure_rate:
        share = f"{faults.rest_failure_rate:.0%}"
        active.append(f"**{share}** of REST calls fail with ErrorCode {faults.rest_failure_code}")
    if not active:
        return "No faults: callbacks go out once and on time, REST calls succeed."
    return "Active faults: " + "; ".join(active) + "."


def _share(rate: float) -> str:
    """ "all" or "10% of", to stand before "callbacks"."""
    return "all" if rate >= 1 else f"{rate:.0%} of"


def fault_banner(faults: Faults, callback_retries: int) -> str:
    """The warning over the chat while any fault is on; "" when none is."""
    summary = faults_summary(faults, callback_retries)
    return "" if summary.startswith("No faults") else f"⚠️ **Faults are on.** {summary}"


def bot_state(bot: BotChild | None, webhook_url: str | None) -> str:
    """One line on the bot the sandbox started (or that it did not start one)."""
    if bot is None:
        return f"Bot: not started by the sandbox; callbacks go to {webhook_url or 'nowhere (no URL set)'}."
    if bot.exit_code is not None:
        return (
            f"⚠️ **Bot: exited with code {bot.exit_code}**; callbacks to {bot.webhook_url} fail. "
            "Its output is in the Bot tab."
        )
    if not bot.ready:
        return f"Bot: starting (pid {bot.pid}), not answering {bot.url}/healthz yet…"
    model = f" Answering with **{bot.answering_with}**." if bot.answering_with else ""
    return f"Bot: **ready** (botkit serve, pid {bot.pid}, {bot.webhook_url}).{model}"


def settings_summary(view: ConfigView) -> str:
    auth = "on" if view.callback_token_set else "off"
    return (
        f"SDKAppID **{view.sdkappid}** · admin **{view.admin}** · callback auth **{auth}** · "
        f"timeout {view.callback_timeout:g} s"
    )


def config_update(webhook_url: str, auth_on: bool, token: str) -> ConfigUpdate:
    """The settings form as a config change: a blank URL turns callbacks off, a blank token keeps it."""
    changes: dict[str, Any] = {"webhook_url": webhook_url.strip() or None}
    if not auth_on:
        changes["callback_token"] = ""
    elif token:
        changes["callback_token"] = token
    return ConfigUpdate(**changes)
