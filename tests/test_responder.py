"""Answering without sending (`Handler.reply`): what each answer is, what is remembered, loops cut
short; the local model is told the date."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from botkit.app import create_app
from botkit.callbacks import C2CMessage, GroupMessage
from botkit.config import Settings
from botkit.elements import text_body
from botkit.errors import LLMError, LoopedAnswer
from botkit.handler import Handler
from botkit.leases import Lease
from botkit.llm.base import ChatMessage, Provider
from botkit.llm.echo import EchoProvider
from botkit.llm.local import with_date
from botkit.responder import Answer, AnswerKind
from botkit.store.base import JournalEntry
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


class Failing:
    name = "failing"

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        raise LLMError("the model is down")
        yield ""


def message(text: str, seq: int, *, to: str = ROBOT, sender: str = "u1") -> C2CMessage:
    return C2CMessage(
        from_account=sender, to_account=to, msg_seq=seq, msg_random=seq, msg_time=0, msg_body=text_body(text)
    )


def handler(settings: Settings, provider: Provider) -> Handler:
    return Handler(settings=settings, provider=provider, store=InMemoryStore())


async def model_answer(handler: Handler, message: C2CMessage) -> Answer:
    """The model's answer `handler.reply` gives for a message that reaches the model path."""
    reply = await handler.reply(message)
    assert reply is not None and reply.answer is not None
    return reply.answer


async def test_a_looped_answer_is_sent_cut_and_never_remembered(settings: Settings) -> None:
    provider = LoopsOnce(JOKE + "  ")
    bot = handler(settings, provider)

    first = await model_answer(bot, message("tell me a joke", 1))
    second = await model_answer(bot, message("another one", 2))

    assert (first.text, first.kind) == (JOKE, AnswerKind.LOOPED)
    assert (second.text, second.kind) == ("fine", AnswerKind.MODEL)
    assert [m.content for m in provider.prompts[1]] == [settings.system_prompt, "another one"]


async def test_a_loop_from_the_first_word_gets_the_fallback(settings: Settings) -> None:
    answer = await model_answer(handler(settings, LoopsOnce("")), message("tell me a joke", 1))

    assert (answer.text, answer.kind) == (settings.fallback_reply, AnswerKind.FALLBACK)


@pytest.mark.parametrize(
    ("provider", "text", "kind"),
    [
        (EchoProvider(), "@@RBT#001 hi", AnswerKind.MODEL),
        (EchoProvider(), "@@RBT#001", AnswerKind.NON_TEXT),
        (Failing(), "hi", AnswerKind.FALLBACK),
    ],
    ids=["model", "non-text", "fallback"],
)
async def test_an_answer_says_what_it_is_and_only_the_models_own_is_remembered(
    settings: Settings, provider: Provider, text: str, kind: AnswerKind
) -> None:
    store = InMemoryStore()
    bot = Handler(settings=settings, provider=provider, store=store)

    answer = await model_answer(bot, message(text, 1))

    assert answer.kind is kind
    assert answer.question == text.removeprefix("@@RBT#001").strip()
    remembered = [turn.content for turn in await store.load_turns(answer.conversation, 10)]
    assert remembered == ([answer.question, answer.text] if answer.remember else [])


@pytest.mark.parametrize(
    "unanswered",
    [
        message("hi", 1, to="@RBT#999"),
        message("hi", 1, sender="@RBT#002"),
        GroupMessage(group_id="g", from_account="u1", msg_seq=1, msg_body=text_body("hi")),
    ],
    ids=["another-robot", "from-a-robot", "group-without-mention"],
)
async def test_reply_answers_only_what_handle_would_answer(
    settings: Settings, unanswered: C2CMessage | GroupMessage
) -> None:
    assert await handler(settings, EchoProvider()).reply(unanswered) is None


async def test_a_handler_without_a_chat_client_cannot_send(settings: Settings) -> None:
    store = InMemoryStore()
    lease = Lease(key="k", token=1, expires_at=60.0, store=store, lease_seconds=10.0, clock=lambda: 0.0)
    entry = JournalEntry(key="k", payload=message("hi", 1).model_dump_json(by_alias=True), token=1)
    with pytest.raises(TypeError, match="can reply, not send"):
        await Handler(settings=settings, provider=EchoProvider(), store=store).handle(entry, lease)


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
