"""Answers that loop: sent cut short, never remembered; the local model is told the date."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from starlette.testclient import TestClient

from botkit.app import create_app
from botkit.callbacks import C2CMessage
from botkit.config import Settings
from botkit.conversation import Memory
from botkit.elements import text_body
from botkit.errors import LoopedAnswer
from botkit.llm.base import ChatMessage
from botkit.llm.echo import EchoProvider
from botkit.llm.local import with_date
from botkit.responder import Responder
from botkit.store.inmemory import InMemoryStore
from tests.support import ROBOT

JOKE = "Why did the chicken cross the road? To get to the other side!"


class LoopsOnce:
    """Loops (as LocalProvider reports it) on the first question, answers "fine" after; keeps prompts."""

    name = "loops-once"

    def __init__(self, partial: str) -> None:
        self.partial = partial
        self.prompts: list[list[ChatMessage]] = []

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        self.prompts.append(list(messages))
        if len(self.prompts) == 1:
            raise LoopedAnswer(self.partial)
        yield "fine"


def message(text: str, seq: int) -> C2CMessage:
    return C2CMessage(
        from_account="u1", to_account=ROBOT, msg_seq=seq, msg_random=seq, msg_time=0, msg_body=text_body(text)
    )


def responder(settings: Settings, provider: LoopsOnce) -> Responder:
    memory = Memory(InMemoryStore(), max_turns=10, max_chars=4000)
    return Responder(settings=settings, provider=provider, memory=memory)


async def test_a_looped_answer_is_sent_cut_and_never_remembered(settings: Settings) -> None:
    provider = LoopsOnce(JOKE + "  ")
    bot = responder(settings, provider)

    first = await bot.reply_to(message("tell me a joke", 1), ROBOT)
    second = await bot.reply_to(message("another one", 2), ROBOT)

    assert (first, second) == (JOKE, "fine")
    assert [m.content for m in provider.prompts[1]] == [settings.system_prompt, "another one"]


async def test_a_loop_from_the_first_word_gets_the_fallback(settings: Settings) -> None:
    bot = responder(settings, LoopsOnce(""))

    assert await bot.reply_to(message("tell me a joke", 1), ROBOT) == settings.fallback_reply


def test_the_local_model_is_told_the_date_in_its_system_prompt() -> None:
    now = datetime(2026, 12, 1, 19, 55, tzinfo=UTC)
    prompt = [ChatMessage("system", "Be brief."), ChatMessage("user", "what time is it?")]

    assert with_date(prompt, now) == [
        ChatMessage("system", "Be brief.\nNow it is Tuesday, 01 December 2026, 19:55 UTC."),
        ChatMessage("user", "what time is it?"),
    ]
    assert with_date(prompt[1:], now)[0] == ChatMessage(
        "system", "Now it is Tuesday, 01 December 2026, 19:55 UTC."
    )


class Named(EchoProvider):
    name = "openai"
    model = "gpt-4o-mini"


def test_healthz_says_which_model_answers(settings: Settings) -> None:
    for provider, expected in [(EchoProvider(), ("echo", None)), (Named(), ("openai", "gpt-4o-mini"))]:
        with TestClient(create_app(settings, provider=provider, store=InMemoryStore())) as client:
            health = client.get("/healthz").json()
        assert (health["llm"], health["model"]) == expected
