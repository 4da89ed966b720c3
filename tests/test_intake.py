"""Durable intake: work recorded before a crash is answered after restart, resumed, not repeated."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import httpx
import pytest

from botkit.app import create_app
from botkit.callbacks import parse_callback
from botkit.config import Settings
from botkit.handler import reply_random
from botkit.llm.base import ChatMessage
from botkit.llm.echo import EchoProvider
from botkit.store import EntryStatus, InMemoryStore, JournalEntry, SQLiteStore, Store
from tests.conftest import c2c_body
from tests.fakechat import FakeChat


async def run_until_idle(settings: Settings, store: Store, chat: FakeChat) -> None:
    app = create_app(settings, transport=httpx.MockTransport(chat), provider=EchoProvider(), store=store)
    async with app.router.lifespan_context(app):
        await app.state.intake.wait_idle()


async def journal(store: Store, text: str, seq: int = 1) -> str:
    message = parse_callback("Bot.OnC2CMessage", c2c_body(text, seq=seq))
    payload = message.model_dump_json(by_alias=True, exclude_none=True)
    assert await store.record(message.dedupe_key, payload, now=0.0, lane=message.lane)
    return message.dedupe_key


async def test_recorded_but_unanswered_message_is_answered_after_restart(
    settings: Settings, tmp_path: Path
) -> None:
    store = SQLiteStore(tmp_path / "bot.db")
    key = await journal(store, "hello")
    await store.close()

    chat = FakeChat()
    reopened = SQLiteStore(tmp_path / "bot.db")
    await run_until_idle(settings, reopened, chat)

    [sent] = chat.sent("openim/sendmsg")
    assert sent["MsgBody"][0]["MsgContent"]["Text"] == "echo: hello"
    entry = await reopened.get(key)
    assert entry is not None
    assert entry.status is EntryStatus.DONE


async def test_half_sent_reply_resumes_with_the_remaining_parts_only(
    settings: Settings, tmp_path: Path
) -> None:
    store = SQLiteStore(tmp_path / "bot.db")
    key = await journal(store, "tell me a long story")
    await store.save_reply(key, ["part one.", "part two."], token=0)
    await store.mark_sent(key, 1, token=0)

    chat = FakeChat()
    await run_until_idle(settings, store, chat)

    [sent] = chat.sent("openim/sendmsg")
    assert sent["MsgBody"][0]["MsgContent"]["Text"] == "part two."
    assert (sent["MsgRandom"], sent["MsgSeq"]) == reply_random(key, 1)


async def test_rest_outage_is_retried_later_then_reported(settings: Settings, tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "bot.db")
    key = await journal(store, "hello")
    chat = FakeChat()
    chat.fail("openim/sendmsg", *[60008] * 100)
    quick = settings.model_copy(update={"rest_retries": 0, "max_attempts": 1})

    await run_until_idle(quick, store, chat)

    entry = await store.get(key)
    assert entry is not None
    assert entry.status is EntryStatus.FAILED
    assert "60008" in (entry.error or "")


async def test_a_retry_after_failure_sends_the_saved_text_not_a_new_answer(
    settings: Settings, tmp_path: Path
) -> None:
    store = SQLiteStore(tmp_path / "bot.db")
    key = await journal(store, "hello")
    await store.save_reply(key, ["the answer given before the crash"], token=0)
    chat = FakeChat()

    await run_until_idle(settings, store, chat)

    [sent] = chat.sent("openim/sendmsg")
    assert sent["MsgBody"][0]["MsgContent"]["Text"] == "the answer given before the crash"


async def test_a_store_outage_while_claiming_is_logged_and_survived(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    class Flaky(InMemoryStore):
        failures = 1

        async def claim(self, *, now: float, lease_seconds: float, limit: int) -> list[JournalEntry]:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("store unreachable")
            return await super().claim(now=now, lease_seconds=lease_seconds, limit=limit)

    store = Flaky()
    await journal(store, "hello")
    chat = FakeChat()
    quick = settings.model_copy(update={"max_in_flight": 1})
    app = create_app(quick, transport=httpx.MockTransport(chat), provider=EchoProvider(), store=store)
    async with app.router.lifespan_context(app):
        deadline = asyncio.get_running_loop().time() + 5
        while not chat.sent("openim/sendmsg"):
            assert asyncio.get_running_loop().time() < deadline, "the message was never answered"
            await asyncio.sleep(0.01)

    assert "cannot read the intake journal" in caplog.text
    assert len(chat.sent("openim/sendmsg")) == 1


async def test_a_store_failure_recording_the_outcome_does_not_stop_the_workers(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    class FailsToFinishOnce(InMemoryStore):
        failures = 1

        async def finish(
            self, key: str, status: EntryStatus, error: str | None = None, *, token: int
        ) -> str | None:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("store unreachable")
            return await super().finish(key, status, error, token=token)

    store = FailsToFinishOnce()
    await journal(store, "first", seq=1)
    chat = FakeChat()
    one_worker = settings.model_copy(update={"max_in_flight": 1})
    app = create_app(one_worker, transport=httpx.MockTransport(chat), provider=EchoProvider(), store=store)
    async with app.router.lifespan_context(app):
        await app.state.intake.wait_idle()
        # Another user's: u1's lane waits for the unfinished entry until its lease expires.
        await app.state.intake.record(
            parse_callback("Bot.OnC2CMessage", c2c_body("second", sender="u2", seq=2))
        )
        deadline = asyncio.get_running_loop().time() + 5
        while len(chat.sent("openim/sendmsg")) < 2:
            assert asyncio.get_running_loop().time() < deadline, "the worker stopped after the failure"
            await asyncio.sleep(0.01)

    assert "cannot record the outcome" in caplog.text


async def _wait_for_replies(chat: FakeChat, count: int) -> list[tuple[str, str]]:
    """(recipient, text) of the first `count` replies, polled with a deadline."""
    deadline = asyncio.get_running_loop().time() + 5
    while len(sent := chat.sent("openim/sendmsg")) < count:
        assert asyncio.get_running_loop().time() < deadline, f"only {len(sent)} of {count} replies were sent"
        await asyncio.sleep(0.01)
    return [(body["To_Account"], body["MsgBody"][0]["MsgContent"]["Text"]) for body in sent]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_one_users_messages_are_answered_in_order_while_others_are_answered_meanwhile(
    settings: Settings, tmp_path: Path, kind: str
) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    prompts: dict[str, list[tuple[str, str]]] = {}

    class SlowFirst(EchoProvider):
        async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
            prompts[messages[-1].content] = [(m.role, m.content) for m in messages[1:]]
            if messages[-1].content == "first":
                started.set()
                await release.wait()
            async for chunk in super().stream(messages):
                yield chunk

    store = InMemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "bot.db")
    chat = FakeChat()
    four = settings.model_copy(update={"max_in_flight": 4})
    app = create_app(four, transport=httpx.MockTransport(chat), provider=SlowFirst(), store=store)
    intake = app.state.intake
    async with app.router.lifespan_context(app):
        await intake.record(parse_callback("Bot.OnC2CMessage", c2c_body("first", sender="u1", seq=1)))
        await intake.record(parse_callback("Bot.OnC2CMessage", c2c_body("second", sender="u1", seq=2)))
        await started.wait()
        await intake.record(parse_callback("Bot.OnC2CMessage", c2c_body("other", sender="u2", seq=3)))

        while_first_is_slow = await _wait_for_replies(chat, 1)
        asked_meanwhile = set(prompts)
        release.set()
        await intake.wait_idle()
        replies = await _wait_for_replies(chat, 3)

    if kind == "sqlite":
        await store.close()
    assert while_first_is_slow == [("u2", "echo: other")]
    assert asked_meanwhile == {"first", "other"}
    assert replies[1:] == [("u1", "echo: first"), ("u1", "echo: second")]
    assert prompts["second"] == [("user", "first"), ("assistant", "echo: first"), ("user", "second")]


async def test_at_most_max_in_flight_answers_run_and_waiting_conversations_take_turns(
    settings: Settings,
) -> None:
    running: list[str] = []
    most = 0
    order: list[str] = []

    class Counting(EchoProvider):
        async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
            nonlocal most
            running.append(messages[-1].content)
            most = max(most, len(running))
            order.append(messages[-1].content)
            await asyncio.sleep(0.01)
            running.remove(messages[-1].content)
            async for chunk in super().stream(messages):
                yield chunk

    chat = FakeChat()
    two = settings.model_copy(update={"max_in_flight": 2})
    app = create_app(two, transport=httpx.MockTransport(chat), provider=Counting(), store=InMemoryStore())
    intake = app.state.intake
    async with app.router.lifespan_context(app):
        # u1 sends three in a row; u2..u5 one each, after u1's first two.
        messages = [("u1", "a1"), ("u1", "a2"), ("u2", "b"), ("u3", "c"), ("u1", "a3"), ("u4", "d")]
        for seq, (sender, text) in enumerate(messages, start=1):
            await intake.record(parse_callback("Bot.OnC2CMessage", c2c_body(text, sender=sender, seq=seq)))
        await _wait_for_replies(chat, len(messages))

    assert most == 2
    assert [text for text in order if text.startswith("a")] == ["a1", "a2", "a3"]
    # u1's conversation answers one message, then lets the conversations waiting behind it go first.
    assert order.index("c") < order.index("a2")


async def test_an_answer_cut_off_by_shutdown_resumes_at_once_on_the_next_start(
    settings: Settings, tmp_path: Path
) -> None:
    class Hanging(EchoProvider):
        async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
            await asyncio.Event().wait()
            yield "never"

    store = SQLiteStore(tmp_path / "bot.db")
    key = await journal(store, "hello")
    first = create_app(settings, transport=httpx.MockTransport(FakeChat()), provider=Hanging(), store=store)
    async with first.router.lifespan_context(first):
        deadline = asyncio.get_running_loop().time() + 5
        while (await store.get(key)).leased_until == 0:  # type: ignore[union-attr]
            assert asyncio.get_running_loop().time() < deadline, "the entry was never claimed"
            await asyncio.sleep(0.01)
        await first.state.intake.stop(grace_seconds=0.01)

    entry = await store.get(key)
    assert entry is not None
    assert entry.leased_until == 0
    chat = FakeChat()
    await run_until_idle(settings, store, chat)
    assert len(chat.sent("openim/sendmsg")) == 1


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 5
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0.01)


async def test_a_worker_whose_lease_was_taken_over_records_no_reply(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    asked, answer = asyncio.Event(), asyncio.Event()

    class Slow(EchoProvider):
        async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
            asked.set()
            await answer.wait()
            async for chunk in super().stream(messages):
                yield chunk

    store = InMemoryStore()
    key = await journal(store, "hello")
    chat = FakeChat()
    app = create_app(settings, transport=httpx.MockTransport(chat), provider=Slow(), store=store)
    async with app.router.lifespan_context(app):
        await asked.wait()
        # The lease ran out (a stalled process, say) and another worker took the entry.
        [taken] = await store.claim(now=time.time() + 60, lease_seconds=60, limit=1)
        answer.set()
        await _until(lambda: "lost the lease" in caplog.text, "the stale worker noticed")

    assert chat.sent("openim/sendmsg") == []
    entry = await store.get(key)
    assert entry is not None
    assert (entry.token, entry.reply_parts, entry.status) == (taken.token, None, EntryStatus.PENDING)


async def test_a_worker_whose_lease_was_taken_over_mid_reply_sends_no_further_part(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    store = InMemoryStore()
    key = await journal(store, "tell me a long story")
    await store.save_reply(key, ["part one.", "part two.", "part three."], token=0)
    chat = FakeChat()
    sending, go_on = asyncio.Event(), asyncio.Event()

    async def slow_first_send(request: httpx.Request) -> httpx.Response:
        if not sending.is_set():
            sending.set()
            await go_on.wait()
        return chat(request)

    short = settings.model_copy(update={"lease_seconds": 1.0})
    app = create_app(
        short, transport=httpx.MockTransport(slow_first_send), provider=EchoProvider(), store=store
    )
    async with app.router.lifespan_context(app):
        await sending.wait()
        [taken] = await store.claim(now=time.time() + 60, lease_seconds=60, limit=1)
        await _until(lambda: "was taken over" in caplog.text, "a heartbeat found the lease gone")
        go_on.set()
        await _until(lambda: "lost the lease" in caplog.text, "the stale worker noticed")

    assert [body["MsgBody"][0]["MsgContent"]["Text"] for body in chat.sent("openim/sendmsg")] == ["part one."]
    entry = await store.get(key)
    assert entry is not None
    assert (entry.token, entry.sent_parts) == (taken.token, 0)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_under_concurrency_each_conversation_is_answered_in_order_with_its_history(
    settings: Settings, tmp_path: Path, kind: str
) -> None:
    rng = random.Random(3)
    prompts: dict[str, list[str]] = {}

    class Jittery(EchoProvider):
        async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
            prompts[messages[-1].content] = [m.content for m in messages[1:] if m.role == "user"]
            await asyncio.sleep(rng.uniform(0, 0.02))
            async for chunk in super().stream(messages):
                yield chunk

    users, per_user = [f"u{n}" for n in range(30)], 5
    store = InMemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "bot.db")
    chat = FakeChat()
    app = create_app(settings, transport=httpx.MockTransport(chat), provider=Jittery(), store=store)
    intake = app.state.intake
    async with app.router.lifespan_context(app):
        bodies = [
            c2c_body(f"{user} #{n}", sender=user, seq=n * len(users) + index)
            for n in range(per_user)
            for index, user in enumerate(users)
        ]
        await asyncio.gather(*(intake.record(parse_callback("Bot.OnC2CMessage", body)) for body in bodies))
        await _until(lambda: len(chat.sent("openim/sendmsg")) == len(bodies), "every message answered")

    if kind == "sqlite":
        await store.close()
    for user in users:
        replies = [
            body["MsgBody"][0]["MsgContent"]["Text"]
            for body in chat.sent("openim/sendmsg")
            if body["To_Account"] == user
        ]
        assert replies == [f"echo: {user} #{n}" for n in range(per_user)]
        assert prompts[f"{user} #{per_user - 1}"] == [f"{user} #{n}" for n in range(per_user)]
