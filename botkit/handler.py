"""Answering one message as a robot: the one path, whether the answer is sent or not.

`handle` answers a leased journal entry and sends the parts not yet sent (the service); `reply`
answers without sending (evaluation). Both pick the robot, run the `Bot` (its middleware, commands
and handlers; by default the `Responder`: prompt, memory, model) and remember the exchange the
same way, so a bot tried in a notebook or with `botkit eval` behaves the same deployed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property, partial

from botkit.bot import Bot
from botkit.callbacks import C2CMessage, GroupMessage, callback_adapter, is_robot
from botkit.config import Settings
from botkit.context import Context, ConversationMemory
from botkit.conversation import Memory, conversation_key
from botkit.elements import MsgBody, body_text, mention_text, strip_mentions, text_body
from botkit.leases import Lease
from botkit.limits import UserLimits
from botkit.llm.base import Provider
from botkit.metrics import Metrics
from botkit.replies import ELEMENTS_MARK, journal_parts, part_body
from botkit.responder import Answer, Asking, Responder
from botkit.restapi import ChatClient
from botkit.store.base import JournalEntry, Store
from botkit.streaming import StreamReplies
from botkit.streamtext import Tap

log = logging.getLogger("botkit.handler")


def reply_random(key: str, part: int) -> tuple[int, int]:
    """(MsgRandom, MsgSeq) for one reply part: new for every reply, the same on every retry of it.

    Tencent drops a repeat with the same sender, MsgSeq, MsgRandom and content, so deriving these
    from the callback's dedupe key makes a resend after a crash or timeout harmless.
    """
    digest = hashlib.sha256(f"{key}#{part}".encode()).digest()
    return int.from_bytes(digest[:4], "big"), int.from_bytes(digest[4:8], "big")


@dataclass(frozen=True)
class Reply:
    """What the bot answers to one message: the messages to send (text not yet split) and the
    model answers behind them (none when a handler or command answered without the model)."""

    bodies: list[MsgBody]
    answers: list[Answer]

    @property
    def text(self) -> str:
        return "\n".join(filter(None, (body_text(body) for body in self.bodies)))

    @cached_property
    def parts(self) -> list[str]:
        """The replies as the journal keeps and the chat is sent them (`replies.journal_parts`)."""
        return journal_parts(self.bodies)

    @property
    def answer(self) -> Answer | None:
        """The first model answer, if the model was asked."""
        return self.answers[0] if self.answers else None


class Handler:
    """Answers messages as the robots this service serves, remembering each conversation in `store`.

    `chat` sends the answers; a Handler built without it can only `reply` (evaluation). `clock`
    (wall time) and `sleep` pace streamed replies (`BOTKIT_STREAM`).
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
        bot: Bot | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._metrics = metrics or Metrics()
        self._settings = settings
        self._bot = bot or Bot()
        self._memory = Memory(store, max_turns=settings.history_turns, max_chars=settings.history_chars)
        self._responder = Responder(
            settings=settings, provider=provider, memory=self._memory, limits=limits, metrics=self._metrics
        )
        self._store = store
        self._chat = chat
        self._streams = (
            StreamReplies(settings=settings, store=store, chat=chat, clock=clock, sleep=sleep)
            if chat is not None
            else None
        )

    def robot_for(self, message: C2CMessage | GroupMessage) -> str | None:
        """The robot that should answer, or None when the message is not for us (or from a robot)."""
        if is_robot(message.from_account):
            return None
        if isinstance(message, C2CMessage):
            return message.to_account if message.to_account in self._settings.robots else None
        return next((r for r in message.at_robots_account if r in self._settings.robots), None)

    async def reply(self, message: C2CMessage | GroupMessage) -> Reply | None:
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
            if entry.stream is not None and self._streams is not None:
                # A stream cut off by a crash: finish it with what the journal holds, do not ask again.
                leftover = await self._streams.resume(entry, lease, message, robot)
                parts = journal_parts([text_body(leftover)])
                await self._store.save_reply(entry.key, parts, token=entry.token)
            else:
                parts = (await self._answer(message, robot, (entry, lease))).parts
        for index in range(entry.sent_parts, len(parts)):
            await lease.ensure()
            await self._send(
                self._chat, message, robot, parts[index], reply_random(entry.key, index), first=index == 0
            )
            await self._store.mark_sent(entry.key, index + 1, token=entry.token)
            self._metrics.reply_sent("c2c" if isinstance(message, C2CMessage) else "group")
        log.info("answered %s as %s in %d part(s)", entry.key, robot, len(parts))

    async def _answer(
        self,
        message: C2CMessage | GroupMessage,
        robot: str,
        leased: tuple[JournalEntry, Lease] | None = None,
    ) -> Reply:
        """Run the bot as `robot` and remember the exchanges; with a `leased` entry, the default
        answer streams (`BOTKIT_STREAM`) and the reply's parts are saved in the journal first, so a
        crash in between asks again instead of remembering twice."""
        ctx = self._context(message, robot)
        default = self._default_answer if leased is None else partial(self._streamed_answer, *leased)
        await self._bot.run(ctx, default)
        reply = Reply(ctx.replies, ctx.answers)
        if leased is not None:
            await self._store.save_reply(leased[0].key, reply.parts, token=leased[0].token)
        for answer in ctx.answers:
            await self._responder.remember(answer)
        return reply

    def _context(self, message: C2CMessage | GroupMessage, robot: str) -> Context:
        conversation = conversation_key(message, robot)
        return Context(
            message=message,
            robot=robot,
            text=strip_mentions(message.text, [robot, *self._settings.robots]),
            bot=self._bot,
            memory=ConversationMemory(self._memory, conversation),
            ask=self._ask,
            chat=self._chat,
        )

    def _asking(self, ctx: Context, question: str | None = None, tap: Tap | None = None) -> Asking:
        return Asking(
            prompt=self._bot.prompt_for(ctx.robot),
            tools=self._bot.tools_for(ctx.robot),
            max_tool_rounds=self._bot.for_robot(ctx.robot).max_tool_rounds,
            question=ctx.text if question is None else question,
            context=ctx,
            tap=tap,
        )

    async def _ask(self, ctx: Context, question: str | None, *, remember: bool) -> str:
        answer = await self._responder.answer(ctx.message, ctx.robot, self._asking(ctx, question))
        if remember:
            ctx.answers.append(answer)
        return answer.text

    async def _default_answer(self, ctx: Context) -> None:
        """What a bot with no handler for a message does: ask the model, as configured."""
        await ctx.reply(await ctx.ask_model())

    async def _streamed_answer(self, entry: JournalEntry, lease: Lease, ctx: Context) -> None:
        """The default answer of a leased entry: streamed into the chat as the model writes it
        (where `BOTKIT_STREAM` and the chat allow), with what the stream did not show sent whole."""
        assert self._streams is not None, "a leased entry is answered by a Handler with a ChatClient"

        async def ask(tap: Tap | None) -> Answer:
            return await self._responder.answer(ctx.message, ctx.robot, self._asking(ctx, tap=tap))

        answer, leftover = await self._streams.answer(entry, lease, ctx.message, ctx.robot, ask)
        ctx.answers.append(answer)
        if leftover:
            await ctx.reply(leftover)

    async def _send(
        self,
        chat: ChatClient,
        message: C2CMessage | GroupMessage,
        robot: str,
        part: str,
        randoms: tuple[int, int],
        *,
        first: bool,
    ) -> None:
        msg_random, msg_seq = randoms
        body = part_body(part)
        if isinstance(message, C2CMessage):
            await chat.send_c2c(robot, message.from_account, body, msg_random=msg_random, msg_seq=msg_seq)
            return
        # A first text part @-mentions the asker; GroupAtInfo must match the "@" in the text.
        mention = first and not part.startswith(ELEMENTS_MARK)
        asker = [message.from_account] if mention else []
        await chat.send_group(
            message.group_id,
            text_body(mention_text(message.from_account, part)) if mention else body,
            random=msg_random,
            from_account=robot,
            at_accounts=asker,
            topic_id=message.topic_id,
        )
