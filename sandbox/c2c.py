"""1:1 message commands under `openim/` (protocol.md §5.1, §5.2, §5.4, §5.5).

A message to a live robot causes `Bot.OnC2CMessage`, even from another robot (protocol.md §2.1: the
sender "may itself be @RBT#"; bots must drop those themselves). A robot's message to a person fires
nothing. A repeat of a message
(same sender, `MsgSeq`, `MsgRandom` and content within 120 s) is dropped but answered OK with the
first message's `MsgTime` and `MsgKey`, as Tencent does, so a retry that reuses them is harmless.
`SyncOtherMachine` 1 (the default) keeps a message in the sender's roaming history too, 2 leaves it
out of it (https://trtc.io/document/34919, https://trtc.io/document/35478).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botkit.callbacks import is_robot
from botkit.elements import MsgBody
from botkit.errorcodes import ErrorCode
from botkit.restmodels import MAX_UINT32, RoamMessage, RoamMessages, SendResult
from sandbox import fields
from sandbox.context import CommandContext, CommandResult
from sandbox.dispatch import c2c_callback
from sandbox.errorcodes import SandboxError
from sandbox.models import C2CRecord

DEDUPE_SECONDS = 120
MAX_RECIPIENTS = 500
MAX_LIFETIME = 604800
_MSG_KEY = re.compile(r"^\d+_\d+_\d+$")
SYNC_TO_SENDER, NO_SYNC_TO_SENDER = 1, 2


@dataclass(frozen=True)
class _Draft:
    """A checked 1:1 send request, before a recipient is picked."""

    sender: str
    msg_seq: int
    msg_random: int
    msg_time: int
    body: MsgBody
    cloud_custom_data: str
    online_only: bool
    sender_synced: bool

    def record(self, to_account: str) -> C2CRecord:
        key = f"{self.msg_seq}_{self.msg_random}_{self.msg_time}"
        return C2CRecord(
            self.sender,
            to_account,
            self.msg_seq,
            self.msg_random,
            self.msg_time,
            key,
            self.body,
            self.cloud_custom_data,
            online_only=self.online_only,
            sender_synced=self.sender_synced,
        )


def _draft(ctx: CommandContext, body: Mapping[str, Any]) -> _Draft:
    """Check the fields sendmsg and batchsendmsg share, in Tencent's order of codes."""
    msg_random = fields.integer(body, "MsgRandom", ErrorCode.MSGRANDOM_INVALID)
    msg_body = fields.msg_body(body)
    sender = fields.optional_text(
        body, "From_Account", ErrorCode.FROM_ACCOUNT_INVALID, ctx.state.config.admin
    )
    if not ctx.state.account_exists(sender):
        raise SandboxError(ErrorCode.FROM_ACCOUNT_INVALID, f"From_Account {sender!r} does not exist.")
    bad = ErrorCode.MSG_FIELD_INVALID
    msg_seq = fields.optional_integer(body, "MsgSeq", bad)
    lifetime = fields.optional_integer(body, "MsgLifeTime", ErrorCode.LIFETIME_INVALID, high=MAX_LIFETIME)
    online_only = fields.optional_integer(body, "OnlineOnlyFlag", bad, high=1) == 1 or lifetime == 0
    msg_time = fields.optional_integer(body, "MsgTimeStamp", bad)
    sync = fields.optional_integer(body, "SyncOtherMachine", bad, low=SYNC_TO_SENDER, high=NO_SYNC_TO_SENDER)
    return _Draft(
        sender=sender,
        msg_seq=msg_seq if msg_seq is not None else ctx.rng.randrange(1, MAX_UINT32),
        msg_random=msg_random,
        msg_time=msg_time if msg_time is not None else ctx.msg_time,
        body=msg_body,
        cloud_custom_data=fields.optional_text(body, "CloudCustomData", bad),
        online_only=online_only,
        sender_synced=sync != NO_SYNC_TO_SENDER,
    )


def sendmsg(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    to_account = fields.text(body, "To_Account", ErrorCode.TO_ACCOUNT_INVALID)
    draft = _draft(ctx, body)
    if not ctx.state.account_exists(to_account):
        raise SandboxError(ErrorCode.TO_ACCOUNT_INVALID, f"To_Account {to_account!r} does not exist.")
    since = ctx.msg_time - DEDUPE_SECONDS
    repeat = ctx.state.find_c2c_duplicate(
        draft.sender, draft.msg_seq, draft.msg_random, draft.body, since=since
    )
    if repeat is not None:
        return CommandResult(SendResult(msg_time=repeat.msg_time, msg_key=repeat.msg_key).to_wire())
    record = draft.record(to_account)
    ctx.state.store_c2c(record)
    result = CommandResult(SendResult(msg_time=record.msg_time, msg_key=record.msg_key).to_wire())
    if is_robot(to_account):
        result.callbacks.append(c2c_callback(record, event_time=ctx.event_time))
    return result


def batchsendmsg(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    """Send one message to up to 500 users; unknown ones land in `ErrorList`. Fires no callbacks."""
    targets = body.get("To_Account")
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) and t for t in targets):
        raise SandboxError(ErrorCode.TO_ACCOUNT_INVALID, "To_Account must be an array of UserIDs.")
    if len(targets) > MAX_RECIPIENTS:
        raise SandboxError(ErrorCode.TOO_MANY_RECIPIENTS)
    draft = _draft(ctx, body)
    errors = []
    for target in dict.fromkeys(targets):
        if ctx.state.account_exists(target):
            ctx.state.store_c2c(draft.record(target))
        else:
            errors.append({"To_Account": target, "ErrorCode": int(ErrorCode.ACCOUNT_NOT_IMPORTED)})
    answer: dict[str, Any] = {"MsgKey": draft.record("").msg_key}
    if errors:
        answer["ErrorList"] = errors
    return CommandResult(answer)


def admin_getroammsg(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    """One page of a 1:1 history, oldest first; page on with `MaxTime=LastMsgTime` and `LastMsgKey`."""
    bad = ErrorCode.MSG_FIELD_INVALID
    operator = fields.text(body, "Operator_Account", bad)
    peer = fields.text(body, "Peer_Account", bad)
    max_cnt = fields.integer(body, "MaxCnt", bad, low=1)
    min_time = fields.integer(body, "MinTime", bad)
    max_time = fields.integer(body, "MaxTime", bad)
    last_key = fields.optional_text(body, "LastMsgKey", ErrorCode.MSGKEY_INVALID) or None
    for account in (operator, peer):
        if not ctx.state.account_exists(account):
            raise SandboxError(ErrorCode.ACCOUNT_NOT_IMPORTED, f"{account!r} has not been imported.")
    found = ctx.state.c2c_history(
        operator, peer, min_time=min_time, max_time=max_time, before_key=last_key, limit=max_cnt + 1
    )
    page = found[:max_cnt][::-1]
    oldest = page[0] if page else None
    history = RoamMessages(
        complete=int(len(found) <= max_cnt),
        msg_cnt=len(page),
        last_msg_time=oldest.msg_time if oldest else 0,
        last_msg_key=oldest.msg_key if oldest else "",
        msg_list=[_roam_item(record) for record in page],
    )
    return CommandResult(history.to_wire())


def _roam_item(record: C2CRecord) -> RoamMessage:
    return RoamMessage(
        from_account=record.from_account,
        to_account=record.to_account,
        msg_seq=record.msg_seq,
        msg_random=record.msg_random,
        msg_time_stamp=record.msg_time,
        msg_flag_bits=record.flag,
        # No client sends read receipts here, so nothing is ever read by the peer.
        is_peer_read=0,
        msg_key=record.msg_key,
        msg_body=record.body,
        cloud_custom_data=record.cloud_custom_data,
    )


def modify_c2c_msg(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    """Overwrite the body and/or `CloudCustomData` of a sent 1:1 message, found by its `MsgKey`."""
    sender = fields.text(body, "From_Account", ErrorCode.FROM_ACCOUNT_INVALID)
    to_account = fields.text(body, "To_Account", ErrorCode.TO_ACCOUNT_INVALID)
    msg_key = fields.text(body, "MsgKey", ErrorCode.MSGKEY_INVALID)
    if not _MSG_KEY.match(msg_key):
        raise SandboxError(ErrorCode.MSGKEY_INVALID)
    new_body = fields.optional_msg_body(body)
    custom = body.get("CloudCustomData")
    if custom is not None and not isinstance(custom, str):
        raise SandboxError(ErrorCode.MSG_FIELD_INVALID, "CloudCustomData must be a string.")
    if new_body is None and custom is None:
        raise SandboxError(ErrorCode.MSG_FIELD_INVALID, "give MsgBody or CloudCustomData to modify.")
    record = ctx.state.c2c_message(sender, to_account, msg_key)
    if record is None:
        raise SandboxError(ErrorCode.MESSAGE_NOT_FOUND)
    ctx.state.modify_c2c(record, body=new_body, cloud_custom_data=custom)
    return CommandResult()
