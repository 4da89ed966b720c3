"""How each `BOTKIT_STREAM` mode writes one streamed message, and the "typing…" signal.

A sink opens a message with its first text and gets a handle back (a `MsgKey`, a `StreamMsgID`, or
a group `MsgSeq`), then grows it and closes it. Sinks keep no state of their own: the handle and
the chunk count come from the journal, so a restarted process can close what a dead one opened.

- `robot`: `send_stream_msg` chunks, `Finish: 1` at the end (1:1 only; TUIKit ≥ 7.7.5282 renders it).
- `native`: `TIMStreamElem` chunks through `stream_msg/*`; `CompatibleText`, the text so far, is what
  clients without stream support show.
- `edit`: a normal message, then `modify_*_msg` with the whole text so far; every client shows it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Literal, Protocol

from botkit.callbacks import C2CMessage, GroupMessage
from botkit.elements import (
    CustomContent,
    CustomElem,
    MsgBody,
    StreamContent,
    StreamElem,
    text_body,
)
from botkit.errors import ChatError
from botkit.restapi import ChatClient

log = logging.getLogger("botkit.streaming")

SinkMode = Literal["robot", "native", "edit"]

# TUIKit's typing indicator is an online-only custom message (its "user_typing_status" business ID,
# https://trtc.io/document/58663 and TUIKit's MessageTyping); Tencent has no REST call of its own for it.
TYPING_DATA = json.dumps(
    {
        "businessID": "user_typing_status",
        "typingStatus": 1,
        "version": 1,
        "userAction": 14,
        "actionParam": "EIMAMSG_InputStatus_Ing",
    }
)
TYPING_BODY: MsgBody = [CustomElem(msg_content=CustomContent(data=TYPING_DATA))]
"""Built once: thousands of answers in flight each offer a signal every few seconds."""


@dataclass(frozen=True)
class Where:
    """The conversation a reply goes to, as the robot that answers."""

    robot: str
    user: str | None = None
    group_id: str | None = None
    asker: str = ""
    topic_id: str | None = None

    @classmethod
    def of(cls, message: C2CMessage | GroupMessage, robot: str) -> Where:
        if isinstance(message, C2CMessage):
            return cls(robot, user=message.from_account)
        return cls(robot, group_id=message.group_id, asker=message.from_account, topic_id=message.topic_id)


def stream_randoms(key: str, segment: int) -> tuple[int, int]:
    """(MsgRandom, MsgSeq) of one streamed message: the same on every resend, so Tencent's de-dup
    finds the message a first call created; apart from the ones `Handler` gives whole parts."""
    digest = hashlib.sha256(f"{key}#stream#{segment}".encode()).digest()
    return int.from_bytes(digest[:4], "big"), int.from_bytes(digest[4:8], "big")


class Sink(Protocol):
    """One mode's calls for one streamed message; `text` is the message's whole text after the call."""

    async def open(self, text: str) -> str: ...

    async def grow(self, handle: str, index: int, text: str, delta: str) -> None: ...

    async def close(self, handle: str, index: int, text: str, delta: str) -> None: ...


class RobotSink:
    def __init__(self, chat: ChatClient, where: Where) -> None:
        assert where.user is not None, "the robot stream is 1:1 only"
        self._chat, self._robot, self._user = chat, where.robot, where.user

    async def open(self, text: str) -> str:
        return (await self._chat.send_stream_msg(self._robot, self._user, text)).msg_key

    async def grow(self, handle: str, index: int, text: str, delta: str) -> None:
        await self._chat.send_stream_msg(self._robot, self._user, delta, msg_key=handle)

    async def close(self, handle: str, index: int, text: str, delta: str) -> None:
        await self._chat.send_stream_msg(self._robot, self._user, delta, msg_key=handle, finish=True)


class NativeSink:
    """`mention` ("@asker " on an answer's first group message) leads the text, as in whole replies."""

    def __init__(self, chat: ChatClient, where: Where, mention: str, randoms: tuple[int, int]) -> None:
        self._chat, self._where, self._mention, self._randoms = chat, where, mention, randoms

    async def open(self, text: str) -> str:
        body = self._body(1, self._mention + text, text, last=False, stream_id=None)
        where, (msg_random, msg_seq) = self._where, self._randoms
        if where.user is not None:
            result = await self._chat.send_c2c_stream_msg(
                where.robot, where.user, body, msg_random=msg_random, msg_seq=msg_seq
            )
        else:
            assert where.group_id is not None
            result = await self._chat.send_group_stream_msg(
                where.group_id,
                body,
                msg_random=msg_random,
                from_account=where.robot,
                at_accounts=[where.asker] if self._mention else [],
                topic_id=where.topic_id,
            )
        return result.stream_msg_id

    async def grow(self, handle: str, index: int, text: str, delta: str) -> None:
        await self._send(self._body(index, delta, text, last=False, stream_id=handle))

    async def close(self, handle: str, index: int, text: str, delta: str) -> None:
        await self._send(self._body(index, delta, text, last=True, stream_id=handle))

    def _body(self, index: int, markdown: str, text: str, *, last: bool, stream_id: str | None) -> MsgBody:
        chunk = {"EventType": "data", "Index": index, "Markdown": markdown, "IsLast": last}
        content = StreamContent(chunks=[chunk], compatible_text=self._mention + text, stream_msg_id=stream_id)
        return [StreamElem(msg_content=content)]

    async def _send(self, body: MsgBody) -> None:
        where, (msg_random, msg_seq) = self._where, self._randoms
        if where.user is not None:
            await self._chat.send_c2c_stream_msg(
                where.robot, where.user, body, msg_random=msg_random, msg_seq=msg_seq
            )
        else:
            assert where.group_id is not None
            await self._chat.send_group_stream_msg(
                where.group_id, body, msg_random=msg_random, from_account=where.robot, topic_id=where.topic_id
            )


class EditSink:
    def __init__(self, chat: ChatClient, where: Where, mention: str, randoms: tuple[int, int]) -> None:
        self._chat, self._where, self._mention, self._randoms = chat, where, mention, randoms

    async def open(self, text: str) -> str:
        where, (msg_random, msg_seq) = self._where, self._randoms
        if where.user is not None:
            sent = await self._chat.send_c2c(
                where.robot, where.user, text_body(text), msg_random=msg_random, msg_seq=msg_seq
            )
            return sent.msg_key
        assert where.group_id is not None
        group_sent = await self._chat.send_group(
            where.group_id,
            text_body(self._mention + text),
            random=msg_random,
            from_account=where.robot,
            at_accounts=[where.asker] if self._mention else [],
            topic_id=where.topic_id,
        )
        return str(group_sent.msg_seq)

    async def grow(self, handle: str, index: int, text: str, delta: str) -> None:
        if not delta:
            return  # nothing new to show, and an edit has no gap to fill
        where = self._where
        if where.user is not None:
            await self._chat.modify_c2c(where.robot, where.user, handle, text_body(text))
        else:
            assert where.group_id is not None
            body = text_body(self._mention + text)
            await self._chat.modify_group(where.group_id, int(handle), body, where.topic_id)

    async def close(self, handle: str, index: int, text: str, delta: str) -> None:
        await self.grow(handle, index, text, delta)


def make_sink(mode: SinkMode, chat: ChatClient, where: Where, *, key: str, segment: int) -> Sink:
    """The sink of `mode` for message `segment` of the answer to journal entry `key`; the first one
    @-mentions the asker in a group, as whole replies do."""
    mention = f"@{where.asker} " if segment == 0 and where.group_id is not None else ""
    randoms = stream_randoms(key, segment)
    if mode == "robot":
        return RobotSink(chat, where)
    if mode == "native":
        return NativeSink(chat, where, mention, randoms)
    return EditSink(chat, where, mention, randoms)


async def send_typing(chat: ChatClient, where: Where) -> None:
    """Tell a 1:1 user the robot is writing: an online-only message, never stored or counted unread.
    Best effort: skipped when replies queue for the REST pace, a failure logged, not raised."""
    if where.user is None:
        return
    try:
        await chat.send_signal(where.robot, where.user, TYPING_BODY)
    except ChatError as exc:
        log.info("could not send typing… to %s: %s", where.user, exc)
