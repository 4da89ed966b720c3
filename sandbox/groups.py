"""Group commands: `group_open_http_svc/*` and `openim/modify_group_msg` (protocol.md §5.3 to §5.7, §10).

A message that @-mentions a robot member (in `GroupAtInfo`, @all excluded, or as a leading "@<robot>"
in the text) causes one `Bot.OnGroupMessage` naming every such robot, unless a robot sent it. The
same `Random` in a group within 5 minutes is a repeat whatever its content (send_group_msg,
https://trtc.io/document/34959): dropped, but answered OK with the first message's `MsgSeq`. A
named sender other than the admin must be a member (AVChatRoom excepted): it is unconfirmed whether
Tencent demands this, and demanding it catches a bot that forgot to join. Community groups have IDs
that start `@TGS#_`, custom ones included (create_group, https://trtc.io/document/34895).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from botkit.callbacks import is_robot
from botkit.elements import MsgBody, body_text, first_problem, leading_mentions
from botkit.errorcodes import ErrorCode
from botkit.restmodels import (
    MAX_HISTORY_PAGE,
    AddMembersResult,
    CreateGroupResult,
    GroupHistory,
    GroupHistoryMessage,
    GroupSendResult,
    MemberResult,
)
from botkit.restrequests import GroupAt
from sandbox import fields
from sandbox.context import CommandContext, CommandResult
from sandbox.dispatch import group_callback
from sandbox.errorcodes import SandboxError
from sandbox.models import Group, GroupRecord

GROUP_TYPES = frozenset({"Public", "Private", "Work", "ChatRoom", "Meeting", "AVChatRoom", "Community"})
LIVE_GROUP = "AVChatRoom"
GENERATED_PREFIX = "@TGS#"
COMMUNITY = "Community"
COMMUNITY_PREFIX = "@TGS#_"
DEDUPE_SECONDS = 300
# send_group_msg takes a name; group_msg_get_simple answers a number, 1 high to 4 lowest
# (https://trtc.io/document/34971). Sending names no "Lowest", so 4 never comes back here.
PRIORITY_NUMBERS = MappingProxyType({"High": 1, "Normal": 2, "Low": 3})
_LIMITS = {"Name": 30, "Introduction": 240, "Notification": 300, "FaceUrl": 100, "GroupId": 48}
_BAD = ErrorCode.GROUP_BAD_PARAM


def _limited_text(body: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    value = fields.text(body, name, _BAD) if required else fields.optional_text(body, name, _BAD)
    if len(value.encode("utf-8")) > _LIMITS[name]:
        raise SandboxError(_BAD, f"{name} is over {_LIMITS[name]} bytes.")
    return value


def _group(ctx: CommandContext, body: Mapping[str, Any], *, live_ok: bool = True) -> Group:
    """The group the request names: 10004 without a GroupId, 10010 if unknown, 10007 if not for AVChatRoom."""
    group_id = fields.text(body, "GroupId", _BAD)
    group = ctx.state.group(group_id)
    if group is None:
        raise SandboxError(ErrorCode.GROUP_NOT_FOUND, f"group {group_id!r} does not exist.")
    if group.type == LIVE_GROUP and not live_ok:
        raise SandboxError(ErrorCode.NO_PERMISSION, "not supported for AVChatRoom groups.")
    return group


def _new_group_id(ctx: CommandContext, group_type: str) -> str:
    alphabet = string.ascii_uppercase + string.digits
    prefix = COMMUNITY_PREFIX if group_type == COMMUNITY else GENERATED_PREFIX + "2"
    while True:
        group_id = prefix + "".join(ctx.rng.choice(alphabet) for _ in range(8))
        if ctx.state.group(group_id) is None:
            return group_id


def _custom_group_id(ctx: CommandContext, body: Mapping[str, Any], group_type: str) -> str:
    """A custom GroupId: printable ASCII; `@TGS#_…` for a Community, never `@TGS#…` for the others."""
    group_id = _limited_text(body, "GroupId")
    if not (group_id.isascii() and group_id.isprintable()):
        raise SandboxError(_BAD, "a custom GroupId is printable ASCII.")
    if group_type == COMMUNITY and not group_id.startswith(COMMUNITY_PREFIX):
        raise SandboxError(_BAD, f"a custom Community GroupId starts {COMMUNITY_PREFIX}.")
    if group_type != COMMUNITY and group_id.startswith(GENERATED_PREFIX):
        raise SandboxError(_BAD, f"a custom GroupId does not start {GENERATED_PREFIX}.")
    if ctx.state.group(group_id) is not None:
        raise SandboxError(ErrorCode.GROUP_ID_TAKEN)
    return group_id


def _member_ids(body: Mapping[str, Any], *, most: int) -> list[str]:
    items = fields.object_list(body, "MemberList", _BAD, most=most)
    return [fields.text(item, "Member_Account", _BAD) for item in items]


def create_group(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    group_type = fields.text(body, "Type", _BAD)
    if group_type not in GROUP_TYPES:
        raise SandboxError(_BAD, f"Type must be one of {', '.join(sorted(GROUP_TYPES))}.")
    name = _limited_text(body, "Name", required=True)
    for optional in ("Introduction", "Notification", "FaceUrl"):
        _limited_text(body, optional)
    owner = fields.optional_text(body, "Owner_Account", _BAD)
    members = _member_ids(body, most=100) if "MemberList" in body else []
    if members and group_type == LIVE_GROUP:
        raise SandboxError(ErrorCode.NO_PERMISSION, "an AVChatRoom cannot be created with members.")
    for account in [owner, *members] if owner else members:
        if not ctx.state.account_exists(account):
            raise SandboxError(_BAD, f"{account!r} has not been imported.")
    custom = "GroupId" in body
    group_id = _custom_group_id(ctx, body, group_type) if custom else _new_group_id(ctx, group_type)
    ctx.state.create_group(Group(group_id, group_type, name, owner), [owner, *members] if owner else members)
    return CommandResult(CreateGroupResult(group_id=group_id).to_wire())


def add_group_member(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    """Add up to 300 members; `Result` is 0 failed (not imported), 1 added, 2 already a member."""
    group = _group(ctx, body, live_ok=False)
    results = []
    for member in _member_ids(body, most=300):
        if not ctx.state.account_exists(member):
            result = 0
        else:
            result = 1 if ctx.state.add_member(group.group_id, member) else 2
        results.append(MemberResult(member_account=member, result=result))
    return CommandResult(AddMembersResult(member_list=results).to_wire())


def _at_accounts(body: Mapping[str, Any]) -> list[str]:
    """The accounts `GroupAtInfo` @-mentions one by one; @all (`GroupAtAllFlag` 1) names nobody."""
    items = body.get("GroupAtInfo", [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise SandboxError(_BAD, "GroupAtInfo must be an array of objects.")
    try:
        mentions = [GroupAt.model_validate(item) for item in items]
    except ValidationError as exc:
        raise SandboxError(_BAD, f"GroupAtInfo is malformed: {first_problem(exc)}.") from None
    named = []
    for mention in mentions:
        if mention.group_at_all_flag != 1:
            if not mention.group_at_account:
                raise SandboxError(_BAD, "GroupAt_Account is missing or is not a non-empty string.")
            named.append(mention.group_at_account)
    return named


def _mentioned_robots(ctx: CommandContext, group: Group, body: MsgBody, at_accounts: list[str]) -> list[str]:
    """Live robot members mentioned in `GroupAtInfo` or by the leading "@<id>" words of the text."""
    robots = {m for m in ctx.state.members(group.group_id) if is_robot(m) and ctx.state.account_exists(m)}
    leading = leading_mentions(body_text(body))
    return [account for account in dict.fromkeys([*at_accounts, *leading]) if account in robots]


def send_group_msg(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    group = _group(ctx, body)
    random = fields.integer(body, "Random", _BAD)
    msg_body = fields.msg_body(body)
    admin = ctx.state.config.admin
    sender = fields.optional_text(body, "From_Account", _BAD, admin)
    if not ctx.state.account_exists(sender):
        raise SandboxError(_BAD, f"From_Account {sender!r} does not exist.")
    if sender != admin and group.type != LIVE_GROUP and not ctx.state.is_member(group.group_id, sender):
        raise SandboxError(ErrorCode.NO_PERMISSION, f"{sender!r} is not a member of the group.")
    at_accounts = _at_accounts(body)
    priority = fields.optional_text(body, "MsgPriority", _BAD, "Normal")
    if priority not in PRIORITY_NUMBERS:
        raise SandboxError(_BAD, f"MsgPriority must be one of {', '.join(PRIORITY_NUMBERS)}.")
    online_only = fields.optional_integer(body, "OnlineOnlyFlag", _BAD, high=1) == 1
    since = ctx.msg_time - DEDUPE_SECONDS
    repeat = ctx.state.find_group_duplicate(group.group_id, random, since=since)
    if repeat is not None:
        return CommandResult(_sent(repeat))
    draft = GroupRecord(
        group.group_id,
        random,
        sender,
        ctx.msg_time,
        msg_body,
        cloud_custom_data=fields.optional_text(body, "CloudCustomData", _BAD),
        priority=priority,
        online_only=online_only and group.type != LIVE_GROUP,
    )
    record = ctx.state.store_group(draft)
    result = CommandResult(_sent(record))
    robots = [] if is_robot(sender) else _mentioned_robots(ctx, group, msg_body, at_accounts)
    if robots:
        callback = group_callback(
            record, group_type=group.type, at_robots=robots, operator=ctx.operator, event_time=ctx.event_time
        )
        result.callbacks.append(callback)
    return result


def _sent(record: GroupRecord) -> dict[str, Any]:
    """The answer to a group message sent, or to a repeat of one: the first one's MsgSeq."""
    return GroupSendResult(msg_time=record.msg_time, msg_seq=record.msg_seq, msg_drop_reason="").to_wire()


def group_msg_get_simple(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    """Up to `ReqMsgNumber` messages, newest first, ending at `ReqMsgSeq`; `IsFinished` 1 once nothing
    older is left. Tencent returns at most 20 a call: a larger `ReqMsgNumber` is capped, not refused."""
    group = _group(ctx, body, live_ok=False)
    number = min(fields.integer(body, "ReqMsgNumber", _BAD, low=1), MAX_HISTORY_PAGE)
    up_to = fields.optional_integer(body, "ReqMsgSeq", _BAD, low=1)
    found = ctx.state.group_history(group.group_id, up_to_seq=up_to, limit=number + 1)
    items = [
        GroupHistoryMessage(
            from_account=record.from_account,
            is_place_msg=0,
            msg_body=record.body,
            msg_priority=PRIORITY_NUMBERS[record.priority],
            msg_random=record.random,
            msg_seq=record.msg_seq,
            msg_time_stamp=record.msg_time,
        )
        for record in found[:number]
    ]
    history = GroupHistory(group_id=group.group_id, is_finished=int(len(found) <= number), rsp_msg_list=items)
    return CommandResult(history.to_wire())


def modify_group_msg(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    group = _group(ctx, body, live_ok=False)
    msg_seq = fields.integer(body, "MsgSeq", _BAD, low=1)
    new_body = fields.optional_msg_body(body)
    custom = body.get("CloudCustomData")
    if custom is not None and not isinstance(custom, str):
        raise SandboxError(_BAD, "CloudCustomData must be a string.")
    if new_body is None and custom is None:
        raise SandboxError(_BAD, "give MsgBody or CloudCustomData to modify.")
    record = ctx.state.group_message(group.group_id, msg_seq)
    if record is None:
        raise SandboxError(ErrorCode.MESSAGE_NOT_FOUND)
    ctx.state.modify_group(record, body=new_body, cloud_custom_data=custom)
    return CommandResult()
