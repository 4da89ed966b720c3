"""Answering one message as a robot: the one path, whether the answer is sent or not.

`handle` answers a leased journal entry and sends the parts not yet sent (the service); `reply`
answers without sending (evaluation). Both pick the robot, answer through the `Responder` and
remember the exchange the same way, so a prompt tuned with `botkit eval` behaves the same deployed.
"""

from __future__ import annotations

import hashlib
import logging

from botkit.callbacks import C2CMessage, GroupMessage, callback_adapter, is_robot
from botkit.config import Settings
from botkit.conversation import Memory
from botkit.elements import text_body
from botkit.leases import Lease
from botkit.limits import UserLimits
from botkit.llm.base import Provider
from botkit.metrics import Metrics
from botkit.responder import Answer, Responder
from botkit.restapi import ChatClient
from botkit.store.base import JournalEntry, Store

log = logging.getLogger("botkit.handler")


def reply_random(key: str, part: int) -> tuple[int, int]:
    """(MsgRandom, MsgSeq) for one reply part: new for every reply, the same on every retry of it.

    Tencent drops a repeat with the same sender, MsgSeq, MsgRandom and content, so deriving these
    from the callback's dedupe key makes a resend after a crash or timeout harmless.
    """
    digest = hashlib.sha256(f"{key}#{part}".encode()).digest()
    return int.from_bytes(digest[:4], "big"), int.from_bytes(digest[4:8], "big")


class Handler:
    """Answers messages as the robots this service serves, remembering each conversation in `store`.

    `chat` sends the answers; a Handler built without it can only `reply` (evaluation).
    """

    def __init__(
        self,
        *,
        settings: Settings,
        provider: Provider,
        store: Store,
        chat: ChatClient | None = None,
        limits: UserLimits | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or Metrics()
        self._settings = settings
        memory = Memory(store, max_turns=settings.history_turns, max_chars=settings.history_chars)
        self._responder = Responder(
            settings=settings, provider=provider, memory=memory, limits=limits, metrics=self._metrics
        )
        self._store = store
        self._chat = chat

    def robot_for(self, message: C2CMessage | GroupMessage) -> str | None:
        """The robot that should answer, or None when the message is not for us (or from a robot)."""
        if is_robot(message.from_account):
            return None
        if isinstance(message, C2CMessage):
            return message.to_account if message.to_account in self._settings.robots else None
        return next((r for r in message.at_robots_account if r in self._settings.robots), None)

    async def reply(self, message: C2CMessage | GroupMessage) -> Answer | None:
        """Answer `message` and remember the exchange, without sending anything: what `handle` would
        send. None when the message is not for a robot we serve (or comes from a robot)."""
        robot = self.robot_for(message)
        return None if robot is None else await self._answer(message, robot)

    async def handle(
        self, entry: JournalEntry, lease: Lease, message: C2CMessage | GroupMessage | None = None
    ) -> None:
        """Answer a leased journal entry, resuming after the last part a previous attempt sent.

        `message` is the entry's callback when the caller has it parsed already. Every store write
        carries the lease's token, and no part is sent once the lease is lost.
        """
        if self._chat is None:
            raise TypeError("this Handler was built without a ChatClient: it can reply, not send")
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
            parts = (await self._answer(message, robot, entry)).parts
        for index in range(entry.sent_parts, len(parts)):
            await lease.ensure()
            await self._send(
                self._chat, message, robot, parts[index], reply_random(entry.key, index), first=index == 0
            )
            await self._store.mark_sent(entry.key, index + 1, token=entry.token)
            self._metrics.reply_sent("c2c" if isinstance(message, C2CMessage) else "group")
        log.info("answered %s as %s in %d part(s)", entry.key, robot, len(parts))

    async def _answer(
        self, message: C2CMessage | GroupMessage, robot: str, entry: JournalEntry | None = None
    ) -> Answer:
        """Answer as `robot` and remember the exchange; with `entry`, its parts are saved in the
        journal first, so a crash in between asks the model again instead of remembering twice."""
        answer = await self._responder.answer(message, robot)
        if entry is not None:
            await self._store.save_reply(entry.key, answer.parts, token=entry.token)
        await self._responder.remember(answer)
        return answer

    async def _send(
        self,
        chat: ChatClient,
        message: C2CMessage | GroupMessage,
        robot: str,
        text: str,
        randoms: tuple[int, int],
        *,
        first: bool,
    ) -> None:
        msg_random, msg_seq = randoms
        if isinstance(message, C2CMessage):
            await chat.send_c2c(
                robot, message.from_account, text_body(text), msg_random=msg_random, msg_seq=msg_seq
            )
            return
        # The first part @-mentions the asker; GroupAtInfo must match the "@" in the text.
        asker = [message.from_account] if first else []
        await chat.send_group(
            message.group_id,
            text_body(f"@{message.from_account} {text}" if first else text),
            random=msg_random,
            from_account=robot,
            at_accounts=asker,
            topic_id=message.topic_id,
        )
