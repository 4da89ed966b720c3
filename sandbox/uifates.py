"""What became of each message the user sent to a robot, read from the traffic log, for the chat pane.

A message that fires a robot callback either reaches the bot (acked) or not: dropped by a fault,
timed out, the bot unreachable or answering badly. An acked message is "typing…" until the robot
says something after it; if the bot's REST calls for that conversation fail meanwhile, the notice
counts them, and after `GAVE_UP_SECONDS` without a new attempt it says the bot gave up. A bot that
neither answers nor calls for `SILENT_SECONDS` (it ignored the message, say for a robot it does not
serve) stops "typing…" and points at its log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botkit.callbacks import is_robot
from botkit.restmodels import RestCommand
from sandbox.models import C2CRecord, GroupRecord
from sandbox.traffic import TrafficEntry

GAVE_UP_SECONDS = 30.0
SILENT_SECONDS = 90.0
_SEND_COMMANDS = (RestCommand.SEND_C2C, RestCommand.SEND_GROUP)

Record = C2CRecord | GroupRecord


@dataclass(frozen=True)
class Fate:
    """`notice` goes under the message (None: nothing to say); `typing` while the bot works on it."""

    notice: str | None = None
    typing: bool = False


def _is_callback_for(entry: TrafficEntry, record: Record) -> bool:
    body = entry.request
    if entry.kind != "callback" or not isinstance(body, dict):
        return False
    if isinstance(record, C2CRecord):
        return body.get("MsgKey") == record.msg_key and body.get("From_Account") == record.from_account
    return body.get("GroupId") == record.group_id and body.get("MsgSeq") == record.msg_seq


def _is_reply_call(entry: TrafficEntry, record: Record, robot: str) -> bool:
    """A REST send by `robot` into the conversation of `record`."""
    body = entry.request
    if entry.kind != "rest" or not isinstance(body, dict) or body.get("From_Account") != robot:
        return False
    if urlsplit(entry.url).path.removeprefix("/v4/") not in _SEND_COMMANDS:
        return False
    if isinstance(record, C2CRecord):
        return body.get("To_Account") == record.from_account
    return body.get("GroupId") == record.group_id


def _callback_failure(error: str, url: str) -> str:
    if error.startswith("dropped"):
        return "callback dropped (fault injection): the bot never got this message"
    if error.startswith("timed out"):
        return f"callback {error}: the bot did not ack in time, so Tencent counts it as failed"
    if error.startswith("unreachable"):
        return f"bot unreachable at {urlsplit(url)._replace(query='').geturl()}: {error}"
    if error.startswith("no callback URL"):
        return "no callback URL is configured (Settings tab): no bot was told"
    return f"the bot's answer to the callback failed: {error}"


def _robot_of(entries: Sequence[TrafficEntry]) -> str | None:
    for entry in entries:
        if isinstance(entry.request, dict):
            robots: Any = entry.request.get("AtRobots_Account") or [entry.request.get("To_Account")]
            return str(robots[0]) if robots and robots[0] else None
    return None


def fate(record: Record, answered: bool, traffic: Sequence[TrafficEntry], now: float) -> Fate:
    """The fate of one sent message; `answered` says whether a robot spoke after it; `traffic`
    oldest first."""
    callbacks = [entry for entry in traffic if _is_callback_for(entry, record)]
    if not callbacks:
        return Fate()
    acked = [entry for entry in callbacks if entry.error is None]
    if not acked:
        last = callbacks[-1]
        tries = f" ({len(callbacks)} attempts)" if len(callbacks) > 1 else ""
        return Fate(f"⚠️ {_callback_failure(last.error or '', last.url)}{tries}")
    if answered:
        return Fate()
    robot = _robot_of(acked)
    since = acked[0].time
    calls = [e for e in traffic if e.time >= since and robot and _is_reply_call(e, record, robot)]
    failed = [entry for entry in calls if entry.error is not None]
    if not calls and now - since >= SILENT_SECONDS:
        return Fate(f"⚠️ {robot} took this but has not answered in {SILENT_SECONDS:g} s: see the Bot tab")
    if not failed:
        return Fate(typing=True)
    last = failed[-1]
    count = f"{len(failed)} failed REST call{'s' if len(failed) != 1 else ''}"
    if now - calls[-1].time >= GAVE_UP_SECONDS:
        return Fate(f"⚠️ the bot gave up after {count} (last: {last.error})")
    return Fate(f"⚠️ the bot is retrying: {count} so far (last: {last.error})", typing=True)


def fates(records: Sequence[Record], me: str, traffic: Sequence[TrafficEntry], now: float) -> list[Fate]:
    """One `Fate` per record, oldest first; only my messages have one."""
    result = []
    for index, record in enumerate(records):
        if record.from_account != me:
            result.append(Fate())
            continue
        answered = any(is_robot(later.from_account) for later in records[index + 1 :])
        result.append(fate(record, answered, traffic, now))
    return result
