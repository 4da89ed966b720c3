"""From a journal entry to a sent reply: filter, answer (via the Responder), split, send, count."""

from __future__ import annotations

import hashlib
import logging

from botkit.callbacks import C2CMessage, GroupMessage, callback_adapter, is_robot
from botkit.config import Settings
from botkit.elements import text_body
from botkit.leases import Lease
from botkit.metrics import Metrics
from botkit.replies import split
from botkit.responder import Responder
from botkit.restapi import ChatClient
from botkit.store.base import JournalEntry, Store
from botkit.streaming import StreamReplies

log = logging.getLogger("botkit.handler")


def reply_random(key: str, part: int) -> tuple[int, int]:
    """(MsgRandom, MsgSeq) for one reply part: new for every reply, the same on every retry of it.

    Tencent drops a repeat with the same sender, MsgSeq, MsgRandom and content, so deriving these
    from the callback's dedupe key makes a resend after a crash or timeout harmless.
    """
    digest = hashlib.sha256(f"{key}#{part}".encode()).digest()
    return int.from_bytes(digest[:4], "big"), int.from_bytes(digest[4:8], "big")


class Handler:
    """Answers one message as one of the robots this service serves."""

    def __init__(
        self,
        *,
        settings: Settings,
        responder: Responder,
        store: Store,
        chat: ChatClient,
        metrics: Metrics | None = None,
        streams: StreamReplies | None = None,
    ) -> None:
        self._metrics = metrics or Metrics()
        self._streams = streams or StreamReplies(
            settings=settings, responder=responder, store=store, chat=chat
        )
        self._settings = settings
        self._responder = responder
        self._store = store
        self._chat = chat

    def robot_for(self, message: C2CMessage | GroupMessage) -> str | None:
        """The robot that should answer, or None when the message is not for us (or from a robot)."""
        if is_robot(message.from_account):
            return None
        if isinstance(message, C2CMessage):
            return message.to_account if message.to_account in self._settings.robots else None
        return next((r for r in message.at_robots_account if r in self._settings.robots), None)

    async def handle(
        self, entry: JournalEntry, lease: Lease, message: C2CMessage | GroupMessage | None = None
    ) -> None:
        """Answer a leased journal entry, resuming after the last part a previous attempt sent.

        `message` is the entry's callback when the caller has it parsed already. Every store write
        carries the lease's token, and no part is sent once the lease is lost.
        """
        if message is None:
            message = callback_adapter.validate_json(entry.payload)
        robot = self.robot_for(message)
        if robot is None:
            log.info(
                "ignoring %s from %s: not addressed to a robot we serve", entry.key, message.from_account
            )
            return
        parts = entry.reply_parts
        if parts is None:
            # Streamed (BOTKIT_STREAM) as far as it can be; what is left is sent whole, as before.
            answer = await self._streams.answer(entry, lease, message, robot)
            parts = split(answer.text)
            await self._store.save_reply(entry.key, parts, token=entry.token)
            await self._responder.remember(message, robot, answer)
        for index in range(entry.sent_parts, len(parts)):
            await lease.ensure()
            await self._send(message, robot, parts[index], reply_random(entry.key, index), first=index == 0)
            await self._store.mark_sent(entry.key, index + 1, token=entry.token)
            self._metrics.reply_sent("c2c" if isinstance(message, C2CMessage) else "group")
        log.info("answered %s as %s in %d part(s)", entry.key, robot, len(parts))

    async def _send(
        self,
        message: C2CMessage | GroupMessage,
        robot: str,
        text: str,
        randoms: tuple[int, int],
        *,
        first: bool,
    ) -> None:
        msg_random, msg_seq = randoms
        if isinstance(message, C2CMessage):
            await self._chat.send_c2c(
                robot, message.from_account, text_body(text), msg_random=msg_random, msg_seq=msg_seq
            )
            return
        # The first part @-mentions the asker; GroupAtInfo must match the "@" in the text.
        asker = [message.from_account] if first else []
        await self._chat.send_group(
            message.group_id,
            text_body(f"@{message.from_account} {text}" if first else text),
            random=msg_random,
            from_account=robot,
            at_accounts=asker,
            topic_id=message.topic_id,
        )
