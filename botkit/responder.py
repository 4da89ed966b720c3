"""Answering without sending: conversation memory, the robot's prompt, the model, the fallback.

The service (through the Handler), the evaluation module and the notebooks all answer through
`Responder.reply_to`, so a prompt tuned in Jupyter behaves the same once deployed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from botkit.callbacks import C2CMessage, GroupMessage
from botkit.config import Settings
from botkit.conversation import Memory, conversation_key, strip_mentions
from botkit.errors import LLMError, LoopedAnswer
from botkit.limits import UserLimits
from botkit.llm.base import Provider, complete
from botkit.metrics import Metrics
from botkit.replies import clean
from botkit.streamtext import Tap

log = logging.getLogger("botkit.responder")


@dataclass(frozen=True)
class Answer:
    """What to send, and whether the exchange belongs in the conversation's memory: fallback,
    non-text and limit notices and answers cut for looping do not, so the model never imitates them."""

    text: str
    remember: bool = True


class Responder:
    """Answers a message as a robot, remembering the exchange per conversation."""

    def __init__(
        self,
        *,
        settings: Settings,
        provider: Provider,
        memory: Memory,
        limits: UserLimits | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._settings = settings
        self._provider = provider
        self._memory = memory
        self._limits = limits or UserLimits()
        self._metrics = metrics or Metrics()

    @property
    def provider_name(self) -> str:
        return self._provider.name

    async def answer(
        self, message: C2CMessage | GroupMessage, robot: str, *, tap: Tap | None = None
    ) -> Answer:
        """The model's cleaned answer, the fallback text when the model fails, or the non-text
        notice, without asking the model, when the message has no text (an image, a sticker, "").
        `tap` wraps the provider for this answer (a stream watching the chunks)."""
        key = conversation_key(message, robot)
        question = self._question(message, robot)
        if not question:
            log.info("no text in a message for %s; sending the non-text notice", key)
            return Answer(self._settings.non_text_reply, remember=False)
        if (notice := await self._limits.admit(message.from_account)) is not None:
            return Answer(notice, remember=False)
        question = self._limits.clip(question)
        prompt = await self._memory.prompt(key, self._settings.prompt_for(robot), question)
        try:
            # The one bound on a whole answer, whatever the provider does; the intake lease counts on it.
            async with asyncio.timeout(self._settings.llm_timeout):
                provider = tap(self._provider) if tap is not None else self._provider
                answer = await self._metrics.time_model(self._provider.name, complete(provider, prompt))
        except LoopedAnswer as exc:
            log.warning(
                "%s looped for %s: %s; sending the part before, not remembering it",
                self._provider.name,
                key,
                exc,
            )
            return Answer(clean(exc.partial) or self._settings.fallback_reply, remember=False)
        except (LLMError, TimeoutError) as exc:
            reason = (
                exc if isinstance(exc, LLMError) else f"no answer within {self._settings.llm_timeout:g} s"
            )
            log.error("%s failed for %s: %s; sending the fallback reply", self._provider.name, key, reason)
            return Answer(self._settings.fallback_reply, remember=False)
        text = clean(answer)
        return Answer(text) if text else Answer(self._settings.fallback_reply, remember=False)

    async def reply_to(self, message: C2CMessage | GroupMessage, robot: str) -> str:
        """Answer and remember the exchange, without sending anything."""
        answer = await self.answer(message, robot)
        await self.remember(message, robot, answer)
        return answer.text

    async def remember(self, message: C2CMessage | GroupMessage, robot: str, answer: Answer) -> None:
        """Store the exchange, when the answer is one to remember (see `Answer`)."""
        if answer.remember:
            question = self._question(message, robot)
            await self._memory.remember(conversation_key(message, robot), question, answer.text)

    def _question(self, message: C2CMessage | GroupMessage, robot: str) -> str:
        """The text the model is asked: mentions of our robots removed, blank when there is none."""
        return strip_mentions(message.text, [robot, *self._settings.robots])
