"""The answering step inside `Handler`: the robot's prompt with the conversation's memory, the model,
the fallback, and whether the exchange is remembered. Nothing is sent from here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, cast

from botkit.callbacks import C2CMessage, GroupMessage
from botkit.config import Settings
from botkit.conversation import Memory, conversation_key
from botkit.elements import image_urls
from botkit.errors import LLMError, LoopedAnswer
from botkit.limits import UserLimits
from botkit.llm.base import ChatMessage, Provider, ToolModel, calls_tools, complete, strip_thinking
from botkit.metrics import Metrics
from botkit.replies import clean, split
from botkit.streamtext import Tap
from botkit.tools import Tool, run_tools

if TYPE_CHECKING:
    from botkit.context import Context

log = logging.getLogger("botkit.responder")


class AnswerKind(StrEnum):
    """Where an answer's text came from."""

    MODEL = "model"
    """The model's own answer, cleaned."""
    LOOPED = "looped"
    """The model's answer cut before it started repeating itself (or copying an earlier answer)."""
    FALLBACK = "fallback"
    """`BOTKIT_FALLBACK_REPLY`: the model failed, timed out, or said nothing."""
    NON_TEXT = "non_text"
    """`BOTKIT_NON_TEXT_REPLY`: the message had no text; the model was not asked."""
    LIMITED = "limited"
    """A rate or quota notice: the user is over a limit; the model was not asked."""


@dataclass(frozen=True)
class Answer:
    """What to send for one message, and what it is.

    Only the model's own answer is remembered: fallback, non-text and limit notices and answers cut
    for looping are not, so the model never imitates them.
    """

    conversation: str
    """The conversation's memory key (`conversation_key`)."""
    question: str
    """The message's text as the model is asked it: mentions of our robots removed."""
    text: str
    kind: AnswerKind = AnswerKind.MODEL

    @property
    def remember(self) -> bool:
        return self.kind is AnswerKind.MODEL

    @cached_property
    def parts(self) -> list[str]:
        """The messages the text is sent as, each within Tencent's size limit."""
        return split(self.text)


@dataclass(frozen=True)
class Asking:
    """How a bot asks the model: the question (the message's text without our robots' mentions, or
    what `ctx.ask_model("...")` asks), its prompt and the tools it offers."""

    question: str
    prompt: str | None = None
    """None: the robot's prompt from the settings."""
    tools: Sequence[Tool] = ()
    max_tool_rounds: int = 4
    context: Context | None = None
    """Given to tools that take a `Context` parameter."""
    tap: Tap | None = None
    """Wraps the provider for this answer: a stream watching the chunks as they come."""


class Responder:
    """Answers a message as a robot, and remembers the exchange when asked to."""

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

    async def answer(self, message: C2CMessage | GroupMessage, robot: str, asking: Asking) -> Answer:
        """The model's cleaned answer, the fallback when the model fails, or a notice sent without
        asking the model: for a message with nothing the model can read (no text, and no image for a
        model that reads images) or a user over a limit."""
        conversation = conversation_key(message, robot)
        question = asking.question
        images = tuple(image_urls(message.msg_body)) if self._settings.llm_images else ()
        text, kind = await self._text(message.from_account, robot, conversation, question, images, asking)
        return Answer(conversation, question, text, kind)

    async def remember(self, answer: Answer) -> None:
        """Store the exchange, when the answer is one to remember (see `Answer`)."""
        if answer.remember:
            await self._memory.remember(answer.conversation, answer.question, answer.text)

    async def _text(
        self,
        user: str,
        robot: str,
        conversation: str,
        question: str,
        images: tuple[str, ...],
        asking: Asking,
    ) -> tuple[str, AnswerKind]:
        if not question and not images:
            log.info("no text in a message for %s; sending the non-text notice", conversation)
            return self._settings.non_text_reply, AnswerKind.NON_TEXT
        if (notice := await self._limits.admit(user)) is not None:
            return notice, AnswerKind.LIMITED
        system = asking.prompt if asking.prompt is not None else self._settings.prompt_for(robot)
        prompt = await self._memory.prompt(conversation, system, self._limits.clip(question), images)
        name = self._provider.name
        try:
            # The one bound on a whole answer, whatever the provider does; the intake lease counts on it.
            async with asyncio.timeout(self._settings.llm_timeout):
                text = clean(await self._metrics.time_model(name, self._ask(prompt, asking)))
        except LoopedAnswer as exc:
            log.warning(
                "%s looped for %s: %s; sending the part before, not remembering it", name, conversation, exc
            )
            if partial := clean(exc.partial):
                return partial, AnswerKind.LOOPED
            return self._settings.fallback_reply, AnswerKind.FALLBACK
        except (LLMError, TimeoutError) as exc:
            reason = (
                exc if isinstance(exc, LLMError) else f"no answer within {self._settings.llm_timeout:g} s"
            )
            log.error("%s failed for %s: %s; sending the fallback reply", name, conversation, reason)
            return self._settings.fallback_reply, AnswerKind.FALLBACK
        return (text, AnswerKind.MODEL) if text else (self._settings.fallback_reply, AnswerKind.FALLBACK)

    async def _ask(self, prompt: list[ChatMessage], asking: Asking) -> str:
        # A provider that cannot call tools answers without them (`create_app` warned at start).
        if not asking.tools or not calls_tools(self._provider):
            provider = asking.tap(self._provider) if asking.tap is not None else self._provider
            return await complete(provider, prompt)
        answer = await run_tools(
            cast(ToolModel, self._provider),
            prompt,
            asking.tools,
            context=asking.context,
            max_rounds=asking.max_tool_rounds,
        )
        return strip_thinking(answer)
