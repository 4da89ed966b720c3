"""Streamed replies: the robot stream and the native C2C and group streams (protocol.md §6).

- `openim_robot_http_svc/send_stream_msg` (https://trtc.io/document/71131): the first call (no
  `MsgKey`) creates a 1:1 message and answers its `MsgKey`; later calls append their `Chunk`, the one
  with `Finish: 1` ends it. Stored as TUIKit's chatbot stream (a `TIMCustomElem` whose `Data` is
  `{"chatbotPlugin": 2, "src": 2, "chunks": [...], "isFinished": 0|1}`, as Tencent's TIMBot plugin
  sends it [code]), so history shows the text so far.
- `stream_msg/send_c2c_stream_msg`, `stream_msg/send_group_stream_msg` (cloud.tencent.com/document/
  product/269/128596, /128597): one `TIMStreamElem` per call; the first (no `StreamMsgID`) creates the
  message and answers `StreamMsgID`, later ones append their `Chunks`, `IsLast: true` ends it. A
  chunk whose `Index` is not above the last one is a retry and changes nothing; a first call repeated
  with the same sender, `MsgSeq` and `MsgRandom` (C2C, 120 s) or `Random` (group, 5 min) answers the
  stream it opened, as sendmsg's de-dup does [our assumption].

Rules, checked on every continuation call in this order, with the codes we answer (Tencent documents
the rules for the native streams, not their codes; the robot stream's page names only 10002 and
10004, and the sandbox applies the native rules to it too):
1. a `MsgKey`/`StreamMsgID` that names no stream of this conversation: 10004;
2. a write after the end (`Finish`/`IsLast` seen): 10004;
3. more than 15 s since the last write: the stream ended then, the write gets 10004;
4. a 6th continuation call within one second: 60018 (Tencent's "too frequent, try later");
5. a call body over 12 KB, or the whole message reaching 128 KB: 80002.
A refused call changes nothing and does not count towards the rate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from botkit.elements import (
    CustomContent,
    CustomElem,
    MsgBody,
    StreamContent,
    StreamElem,
    TextElem,
    first_problem,
)
from botkit.errorcodes import ErrorCode
from botkit.restmodels import MAX_BODY_BYTES, MAX_UINT32, body_size
from sandbox import fields
from sandbox.context import CommandContext, CommandResult
from sandbox.errorcodes import SandboxError
from sandbox.groups import LIVE_GROUP
from sandbox.models import C2CRecord, GroupRecord

MAX_CONTINUATIONS_PER_SECOND = 5
MAX_GAP_SECONDS = 15.0
MAX_STREAM_BYTES = 128 * 1024
C2C_REPEAT_SECONDS = 120
GROUP_REPEAT_SECONDS = 300
ROBOT_STREAM_PLUGIN = 2
_BAD = ErrorCode.GROUP_BAD_PARAM

StreamKind = Literal["robot", "c2c", "group"]


class StreamChunk(BaseModel):
    """One item of `TIMStreamElem.Chunks`."""

    event_type: str = Field("data", alias="EventType")
    index: int = Field(alias="Index", ge=1, le=MAX_UINT32)
    markdown: str = Field("", alias="Markdown")
    is_last: bool = Field(False, alias="IsLast")


class StreamSession(BaseModel):
    """What the sandbox keeps about one streamed message, next to the message itself."""

    kind: StreamKind
    sender: str
    peer: str = Field(description="To_Account, or the GroupId")
    msg_key: str = ""
    msg_seq: int = 0
    msg_time: int = 0
    opened_at: float
    written_at: float
    recent: list[float] = Field(default_factory=list, description="accepted continuation call times")
    last_index: int = 0
    ended: bool = False


def visible_text(body: MsgBody) -> str:
    """What a current client shows for a body: its text, the chunks of a stream so far, and the
    chunks of a robot stream; other elements are left out."""
    shown = []
    for elem in body:
        if isinstance(elem, TextElem):
            shown.append(elem.msg_content.text)
        elif isinstance(elem, StreamElem):
            chunks = [str(chunk.get("Markdown", "")) for chunk in elem.msg_content.chunks]
            shown.append("".join(chunks) or elem.msg_content.compatible_text)
        elif isinstance(elem, CustomElem) and (robot := _robot_stream(elem)) is not None:
            shown.append("".join(robot[0]))
    return "".join(shown)


def stream_ended(body: MsgBody) -> bool:
    """Whether a streamed message has been ended by its writer (a plain message is never open)."""
    for elem in body:
        if isinstance(elem, StreamElem):
            return any(bool(chunk.get("IsLast")) for chunk in elem.msg_content.chunks)
        if isinstance(elem, CustomElem) and (robot := _robot_stream(elem)) is not None:
            return robot[1]
    return True


def _robot_stream(elem: CustomElem) -> tuple[list[str], bool] | None:
    """(chunks, finished) of a TUIKit chatbot stream element, None for any other custom element."""
    try:
        data = json.loads(elem.msg_content.data)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("chatbotPlugin") != ROBOT_STREAM_PLUGIN:
        return None
    chunks = data.get("chunks", [])
    return [str(chunk) for chunk in chunks] if isinstance(chunks, list) else [], data.get("isFinished") == 1


def _robot_chunks(body: MsgBody) -> list[str]:
    found = [_robot_stream(elem) for elem in body if isinstance(elem, CustomElem)]
    return next((chunks for chunks, _ in filter(None, found)), [])


def robot_stream_body(chunks: list[str], *, finished: bool) -> MsgBody:
    data = {"chatbotPlugin": ROBOT_STREAM_PLUGIN, "src": 2, "chunks": chunks, "isFinished": int(finished)}
    return [CustomElem(msg_content=CustomContent(data=json.dumps(data, ensure_ascii=False)))]


# -- the robot stream ------------------------------------------------------------------------------


def send_stream_msg(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    robot = fields.text(body, "From_Account", _BAD)
    user = fields.text(body, "To_Account", _BAD)
    chunk = body.get("Chunk")
    if not isinstance(chunk, str):
        raise SandboxError(_BAD, "Chunk is missing or is not a string.")
    if len(chunk.encode("utf-8")) > MAX_BODY_BYTES:
        raise SandboxError(ErrorCode.BODY_TOO_LONG)
    msg_key = fields.optional_text(body, "MsgKey", _BAD)
    finish = fields.optional_integer(body, "Finish", _BAD, high=1) == 1
    if not msg_key:
        return _open_robot_stream(ctx, robot, user, chunk, finish)
    session = _session(ctx, msg_key, "robot", robot, user)
    record = ctx.state.c2c_message(robot, user, msg_key)
    if record is None:
        raise SandboxError(_BAD, f"MsgKey {msg_key!r} names no stream to {user!r}.")
    new_body = robot_stream_body([*_robot_chunks(record.body), chunk], finished=finish)
    _continue(ctx, msg_key, session, new_body, ended=finish)
    ctx.state.modify_c2c(record, body=new_body)
    return CommandResult({"MsgKey": msg_key})


def _open_robot_stream(ctx: CommandContext, robot: str, user: str, chunk: str, finish: bool) -> CommandResult:
    found = ctx.state.account(robot)
    if found is None or not found.is_robot or found.deleted:
        raise SandboxError(_BAD, f"From_Account {robot!r} is not a robot of this app.")
    if not ctx.state.account_exists(user):
        raise SandboxError(_BAD, f"To_Account {user!r} does not exist.")
    msg_seq, msg_random = ctx.rng.randrange(1, MAX_UINT32), ctx.rng.randrange(MAX_UINT32)
    msg_key = f"{msg_seq}_{msg_random}_{ctx.msg_time}"
    body = robot_stream_body([chunk], finished=finish)
    ctx.state.store_c2c(C2CRecord(robot, user, msg_seq, msg_random, ctx.msg_time, msg_key, body))
    _open(ctx, msg_key, StreamSession(kind="robot", sender=robot, peer=user, msg_key=msg_key, **_times(ctx)))
    return CommandResult({"MsgKey": msg_key})


# -- native streams --------------------------------------------------------------------------------


def send_c2c_stream_msg(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    to_account = fields.text(body, "To_Account", ErrorCode.TO_ACCOUNT_INVALID)
    msg_random = fields.integer(body, "MsgRandom", ErrorCode.MSGRANDOM_INVALID)
    msg_body = fields.msg_body(body)
    content, chunks = _stream_content(msg_body)
    admin = ctx.state.config.admin
    sender = fields.optional_text(body, "From_Account", ErrorCode.FROM_ACCOUNT_INVALID, admin)
    if content.stream_msg_id:
        return _continue_native(ctx, content, chunks, "c2c", sender, to_account)
    parties = ((sender, ErrorCode.FROM_ACCOUNT_INVALID), (to_account, ErrorCode.TO_ACCOUNT_INVALID))
    for account, code in parties:
        if not ctx.state.account_exists(account):
            raise SandboxError(code, f"{account!r} does not exist.")
    bad = ErrorCode.MSG_FIELD_INVALID
    msg_seq = fields.optional_integer(body, "MsgSeq", bad)
    msg_seq = msg_seq if msg_seq is not None else ctx.rng.randrange(1, MAX_UINT32)
    sync = fields.optional_integer(body, "SyncOtherMachine", bad, low=1, high=2)
    stream_id = _stream_id("c2c", sender, to_account, str(msg_seq), str(msg_random))
    repeat = _repeat(ctx, stream_id, C2C_REPEAT_SECONDS)
    if repeat is not None:
        return _native_answer(stream_id, repeat)
    msg_key = f"{msg_seq}_{msg_random}_{ctx.msg_time}"
    stored = _with_id(content, chunks, stream_id)
    record = C2CRecord(
        sender, to_account, msg_seq, msg_random, ctx.msg_time, msg_key, stored, sender_synced=sync != 2
    )
    ctx.state.store_c2c(record)
    session = StreamSession(kind="c2c", sender=sender, peer=to_account, msg_key=msg_key, **_times(ctx))
    session.last_index = max(chunk.index for chunk in chunks)
    session.ended = any(chunk.is_last for chunk in chunks)
    _open(ctx, stream_id, session)
    return _native_answer(stream_id, session)


def send_group_stream_msg(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    group_id = fields.text(body, "GroupId", _BAD)
    group = ctx.state.group(group_id)
    if group is None:
        raise SandboxError(ErrorCode.GROUP_NOT_FOUND, f"group {group_id!r} does not exist.")
    # Tencent's sample sends MsgRandom, some clients Random: which one the server needs is unconfirmed.
    name = "MsgRandom" if "MsgRandom" in body else "Random"
    random = fields.integer(body, name, _BAD)
    msg_body = fields.msg_body(body)
    content, chunks = _stream_content(msg_body)
    admin = ctx.state.config.admin
    sender = fields.optional_text(body, "From_Account", _BAD, admin)
    if content.stream_msg_id:
        return _continue_native(ctx, content, chunks, "group", sender, group_id)
    if not ctx.state.account_exists(sender):
        raise SandboxError(_BAD, f"From_Account {sender!r} does not exist.")
    if sender != admin and group.type != LIVE_GROUP and not ctx.state.is_member(group_id, sender):
        raise SandboxError(ErrorCode.NO_PERMISSION, f"{sender!r} is not a member of the group.")
    stream_id = _stream_id("group", group_id, str(random))
    repeat = _repeat(ctx, stream_id, GROUP_REPEAT_SECONDS)
    if repeat is not None:
        return _native_answer(stream_id, repeat)
    stored = _with_id(content, chunks, stream_id)
    record = ctx.state.store_group(GroupRecord(group_id, random, sender, ctx.msg_time, stored))
    session = StreamSession(kind="group", sender=sender, peer=group_id, msg_seq=record.msg_seq, **_times(ctx))
    session.last_index = max(chunk.index for chunk in chunks)
    session.ended = any(chunk.is_last for chunk in chunks)
    _open(ctx, stream_id, session)
    return _native_answer(stream_id, session)


def _continue_native(
    ctx: CommandContext,
    content: StreamContent,
    chunks: list[StreamChunk],
    kind: StreamKind,
    sender: str,
    peer: str,
) -> CommandResult:
    stream_id = content.stream_msg_id or ""
    session = _session(ctx, stream_id, kind, sender, peer)
    record: C2CRecord | GroupRecord | None = (
        ctx.state.c2c_message(sender, peer, session.msg_key)
        if kind == "c2c"
        else ctx.state.group_message(peer, session.msg_seq)
    )
    if record is None or not isinstance(record.body[0], StreamElem):
        raise SandboxError(_BAD, f"StreamMsgID {stream_id!r} names no stream here.")
    fresh = [chunk for chunk in chunks if chunk.index > session.last_index]
    if not fresh:  # a retry of a call that got through: nothing new
        return _native_answer(stream_id, session)
    stored = record.body[0].msg_content
    compatible = content.compatible_text or stored.compatible_text
    all_chunks = [*stored.chunks, *(_dump_chunk(chunk) for chunk in fresh)]
    new_body: MsgBody = [
        StreamElem(
            msg_content=StreamContent(chunks=all_chunks, compatible_text=compatible, stream_msg_id=stream_id)
        )
    ]
    ended = any(chunk.is_last for chunk in fresh)
    _continue(ctx, stream_id, session, new_body, ended=ended, last_index=max(c.index for c in fresh))
    if isinstance(record, C2CRecord):
        ctx.state.modify_c2c(record, body=new_body)
    else:
        ctx.state.modify_group(record, body=new_body)
    return _native_answer(stream_id, session)


def _stream_content(body: MsgBody) -> tuple[StreamContent, list[StreamChunk]]:
    """The one `TIMStreamElem` of a stream call and its chunks (90002 when malformed)."""
    if len(body) != 1 or not isinstance(body[0], StreamElem):
        raise SandboxError(ErrorCode.MSGBODY_MALFORMED, "MsgBody must hold one TIMStreamElem.")
    content = body[0].msg_content
    if not content.chunks:
        raise SandboxError(ErrorCode.MSGBODY_MALFORMED, "TIMStreamElem.Chunks is empty.")
    try:
        chunks = [StreamChunk.model_validate(chunk) for chunk in content.chunks]
    except ValidationError as exc:
        problem = first_problem(exc)
        raise SandboxError(ErrorCode.MSGBODY_MALFORMED, f"a chunk is malformed: {problem}.") from None
    if [chunk.index for chunk in chunks] != sorted({chunk.index for chunk in chunks}):
        raise SandboxError(ErrorCode.MSGBODY_MALFORMED, "chunk Index values must increase.")
    return content, chunks


def _with_id(content: StreamContent, chunks: list[StreamChunk], stream_id: str) -> MsgBody:
    stored = StreamContent(
        chunks=[_dump_chunk(chunk) for chunk in chunks],
        compatible_text=content.compatible_text,
        stream_msg_id=stream_id,
    )
    return [StreamElem(msg_content=stored)]


def _dump_chunk(chunk: StreamChunk) -> dict[str, Any]:
    return chunk.model_dump(by_alias=True)


def _native_answer(stream_id: str, session: StreamSession) -> CommandResult:
    answer: dict[str, Any] = {"StreamMsgID": stream_id, "MsgTime": session.msg_time}
    answer |= {"MsgKey": session.msg_key} if session.kind == "c2c" else {"MsgSeq": session.msg_seq}
    return CommandResult(answer)


# -- what every stream shares ---------------------------------------------------------------------


def _stream_id(*parts: str) -> str:
    """A StreamMsgID that the same first call always gets, so repeating it finds its stream."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _times(ctx: CommandContext) -> dict[str, Any]:
    return {"opened_at": ctx.now, "written_at": ctx.now, "msg_time": ctx.msg_time}


def _open(ctx: CommandContext, stream_id: str, session: StreamSession) -> None:
    ctx.state.save_stream(stream_id, session.model_dump_json())


def _repeat(ctx: CommandContext, stream_id: str, window: float) -> StreamSession | None:
    """The stream a repeated first call opened within `window` seconds, if any."""
    data = ctx.state.stream_data(stream_id)
    if data is None:
        return None
    session = StreamSession.model_validate_json(data)
    return session if ctx.now - session.opened_at <= window else None


def _session(ctx: CommandContext, stream_id: str, kind: StreamKind, sender: str, peer: str) -> StreamSession:
    data = ctx.state.stream_data(stream_id)
    session = StreamSession.model_validate_json(data) if data is not None else None
    if session is None or (session.kind, session.sender, session.peer) != (kind, sender, peer):
        raise SandboxError(_BAD, f"{stream_id!r} names no stream of this conversation.")
    return session


def _continue(
    ctx: CommandContext,
    stream_id: str,
    session: StreamSession,
    new_body: MsgBody,
    *,
    ended: bool,
    last_index: int = 0,
) -> None:
    """Apply the rules to one continuation call; on success the session records it (saved)."""
    if session.ended:
        raise SandboxError(_BAD, "The stream has ended: no writes after Finish/IsLast.")
    if ctx.now - session.written_at > MAX_GAP_SECONDS:
        session.ended = True
        ctx.state.save_stream(stream_id, session.model_dump_json())
        raise SandboxError(_BAD, f"The stream has ended: no write for over {MAX_GAP_SECONDS:g} s.")
    recent = [at for at in session.recent if ctx.now - at < 1.0]
    if len(recent) >= MAX_CONTINUATIONS_PER_SECOND:
        raise SandboxError(
            ErrorCode.REQUESTS_TOO_FREQUENT,
            f"A stream takes at most {MAX_CONTINUATIONS_PER_SECOND} continuation calls per second.",
        )
    if body_size(new_body) >= MAX_STREAM_BYTES:
        raise SandboxError(ErrorCode.BODY_TOO_LONG, "The streamed message would reach 128 KB.")
    session.recent = [*recent, ctx.now]
    session.written_at = ctx.now
    session.ended = ended
    session.last_index = max(session.last_index, last_index)
    ctx.state.save_stream(stream_id, session.model_dump_json())
