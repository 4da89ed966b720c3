"""Durable intake: work recorded before a crash is answered after restart, resumed, not repeated.

The bot's REST calls go to an in-process sandbox (the `chat_api` fixture), which checks
each as Tencent does; the tests read what it accepted.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from botkit.app import create_app, wiring_of
from botkit.callbacks import parse_callback
from botkit.config import Settings
from botkit.handler import reply_random
from botkit.intake import RENEW_BATCH
from botkit.lab.waiting import await_until
from botkit.llm.base import ChatMessage
from botkit.llm.echo import EchoProvider
from botkit.store import EntryStatus, InMemoryStore, JournalEntry, SQLiteStore, Store
from sandbox.harness import InProcessSandbox
from tests.support import Hanging, c2c_body, fail_rest_calls, sent, sent_texts


async def run_until_idle(settings: Settings, store: Store, chat: InProcessSandbox) -> None:
    app = create_app(settings, transport=chat.transport, provider=EchoProvider(), store=store)
    async with chat.running(app):
        await chat.settle()


async def journal(store: Store, text: str, seq: int = 1) -> str:
    message = parse_callback("Bot.OnC2CMessage", c2c_body(text, seq=seq))
    payload = message.model_dump_json(by_alias=True, exclude_none=True)
    assert await store.record(message.dedupe_key, payload, now=0.0, lane=message.lane)
    return message.dedupe_key


def test_wiring_of_gives_what_create_app_built_and_refuses_other_apps(settings: Settings) -> None:
    store = InMemoryStore()

    wiring = wiring_of(create_app(settings, store=store))

    assert (wiring.settings, wiring.store) == (settings, store)
    with pytest.raises(TypeError, match=r"not made by botkit\.create_app"):
        wiring_of(Starlette())


async def test_recorded_but_unanswered_message_is_answered_after_restart(
    settings: Settings, chat_api: InProcessSandbox, tmp_path: Path
) -> None:
    store = SQLiteStore(tmp_path / "bot.db")
    key = await journal(store, "hello")
    await store.close()

    reopened = SQLiteStore(tmp_path / "bot.db")
    await run_until_idle(settings, reopened, chat_api)

    assert sent_texts(chat_api) == ["echo: hello"]
    entry = await reopened.get(key)
    assert entry is not None
    assert entry.status is EntryStatus.DONE


async def test_half_sent_reply_resumes_with_the_remaining_parts_only(
    settings: Settings, chat_api: InProcessSandbox, tmp_path: Path
) -> None:
    store = SQLiteStore(tmp_path / "bot.db")
    key = await journal(store, "tell me a long story")
    await store.save_reply(key, ["part one.", "part two."], token=0)
    await store.mark_sent(key, 1, token=0)

    await run_until_idle(settings, store, chat_api)

    assert sent_texts(chat_api) == ["part two."]
    [body] = sent(chat_api)
    assert (body["MsgRandom"], body["MsgSeq"]) == reply_random(key, 1)


async def test_rest_outage_is_retried_later_then_reported(
    settings: Settings, chat_api: InProcessSandbox, tmp_path: Path
) -> None:
    store = SQLiteStore(tmp_path / "bot.db")
    key = await journal(store, "hello")
    fail_rest_calls(chat_api, 60008)
    quick = settings.model_copy(update={"rest_retries": 0, "max_attempts": 1})

    await run_until_idle(quick, store, chat_api)

    entry = await store.get(key)
    assert entry is not None
    assert entry.status is EntryStatus.FAILED
    assert "60008" in (entry.error or "")


async def test_a_retry_after_failure_sends_the_saved_text_not_a_new_answer(
    settings: Settings, chat_api: InProcessSandbox, tmp_path: Path
) -> None:
    store = SQLiteStore(tmp_path / "bot.db")
    key = await journal(store, "hello")
    await store.save_reply(key, ["the answer given before the crash"], token=0)

    await run_until_idle(settings, store, chat_api)

    assert sent_texts(chat_api) == ["the answer given before the crash"]


async def test_a_store_outage_while_claiming_is_logged_and_survived(
    settings: Settings, chat_api: InProcessSandbox, caplog: pytest.LogCaptureFixture
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
    quick = settings.model_copy(update={"max_in_flight": 1})
    app = create_app(quick, transport=chat_api.transport, provider=EchoProvider(), store=store)
    async with chat_api.running(app):
        await _until(lambda: bool(sent(chat_api)), "the message answered")

    assert "cannot read the intake journal" in caplog.text
    assert sent_texts(chat_api) == ["echo: hello"]


async def test_a_store_failure_recording_the_outcome_does_not_stop_the_workers(
    settings: Settings, chat_api: InProcessSandbox, caplog: pytest.LogCaptureFixture
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
    chat_api.add_user("u2")
    one_worker = settings.model_copy(update={"max_in_flight": 1})
    app = create_app(one_worker, transport=chat_api.transport, provider=EchoProvider(), store=store)
    async with chat_api.running(app):
        await chat_api.settle()
        # Another user's: u1's lane waits for the unfinished entry until its lease expires.
        await wiring_of(app).intake.record(
            parse_callback("Bot.OnC2CMessage", c2c_body("second", sender="u2", seq=2))
        )
        await _until(lambda: len(sent(chat_api)) == 2, "the worker went on after the failure")

    assert "cannot record the outcome" in caplog.text


def answered(chat: InProcessSandbox) -> list[tuple[str, str]]:
    """(recipient, text) of each reply the sandbox accepted, oldest first."""
    return list(zip([body["To_Account"] for body in sent(chat)], sent_texts(chat), strict=True))


async def _wait_for_replies(chat: InProcessSandbox, count: int) -> list[tuple[str, str]]:
    """(recipient, text) of the first `count` replies, polled with a deadline."""
    await _until(lambda: len(sent(chat)) >= count, f"{count} replies sent")
    return answered(chat)[:count]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_one_users_messages_are_answered_in_order_while_others_are_answered_meanwhile(
    settings: Settings, chat_api: InProcessSandbox, tmp_path: Path, kind: str
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
    chat_api.add_user("u2")
    four = settings.model_copy(update={"max_in_flight": 4})
    app = create_app(four, transport=chat_api.transport, provider=SlowFirst(), store=store)
    intake = wiring_of(app).intake
    async with chat_api.running(app):
        await intake.record(parse_callback("Bot.OnC2CMessage", c2c_body("first", sender="u1", seq=1)))
        await intake.record(parse_callback("Bot.OnC2CMessage", c2c_body("second", sender="u1", seq=2)))
        await started.wait()
        await intake.record(parse_callback("Bot.OnC2CMessage", c2c_body("other", sender="u2", seq=3)))

        while_first_is_slow = await _wait_for_replies(chat_api, 1)
        asked_meanwhile = set(prompts)
        release.set()
        await chat_api.settle()
        replies = await _wait_for_replies(chat_api, 3)

    if kind == "sqlite":
        await store.close()
    assert while_first_is_slow == [("u2", "echo: other")]
    assert asked_meanwhile == {"first", "other"}
    assert replies[1:] == [("u1", "echo: first"), ("u1", "echo: second")]
    assert prompts["second"] == [("user", "first"), ("assistant", "echo: first"), ("user", "second")]


async def test_at_most_max_in_flight_answers_run_and_waiting_conversations_take_turns(
    settings: Settings, chat_api: InProcessSandbox
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

    for user in ("u2", "u3", "u4"):
        chat_api.add_user(user)
    two = settings.model_copy(update={"max_in_flight": 2})
    app = create_app(two, transport=chat_api.transport, provider=Counting(), store=InMemoryStore())
    intake = wiring_of(app).intake
    async with chat_api.running(app):
        # u1 sends three in a row; u2..u4 one each, after u1's first two.
        messages = [("u1", "a1"), ("u1", "a2"), ("u2", "b"), ("u3", "c"), ("u1", "a3"), ("u4", "d")]
        for seq, (sender, text) in enumerate(messages, start=1):
            await intake.record(parse_callback("Bot.OnC2CMessage", c2c_body(text, sender=sender, seq=seq)))
        await _wait_for_replies(chat_api, len(messages))

    assert most == 2
    assert [text for text in order if text.startswith("a")] == ["a1", "a2", "a3"]
    # u1's conversation answers one message, then lets the conversations waiting behind it go first.
    assert order.index("c") < order.index("a2")


async def test_an_answer_cut_off_by_shutdown_resumes_at_once_on_the_next_start(
    settings: Settings, chat_api: InProcessSandbox, tmp_path: Path
) -> None:
    store = SQLiteStore(tmp_path / "bot.db")
    key = await journal(store, "hello")
    first = create_app(settings, transport=chat_api.transport, provider=Hanging(), store=store)
    async with chat_api.running(first):

        async def claimed() -> bool:
            entry = await store.get(key)
            return entry is not None and entry.leased_until != 0

        await await_until(claimed, timeout=5, failure="the entry was not claimed", interval=0.01)
        await wiring_of(first).intake.stop(grace_seconds=0.01)

    entry = await store.get(key)
    assert entry is not None
    assert entry.leased_until == 0
    await run_until_idle(settings, store, chat_api)
    assert sent_texts(chat_api) == ["echo: hello"]


async def _until(condition: Callable[[], object], what: str) -> None:
    async def holds() -> bool:
        return bool(condition())

    await await_until(holds, timeout=5, failure=f"not yet: {what}", interval=0.01)


async def test_a_worker_whose_lease_was_taken_over_records_no_reply(
    settings: Settings, chat_api: InProcessSandbox, caplog: pytest.LogCaptureFixture
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
    app = create_app(settings, transport=chat_api.transport, provider=Slow(), store=store)
    async with chat_api.running(app):
        await asked.wait()
        # The lease ran out (a stalled process, say) and another worker took the entry.
        [taken] = await store.claim(now=time.time() + 60, lease_seconds=60, limit=1)
        answer.set()
        await _until(lambda: "lost the lease" in caplog.text, "the stale worker noticed")

    assert sent(chat_api) == []
    entry = await store.get(key)
    assert entry is not None
    assert (entry.token, entry.reply_parts, entry.status) == (taken.token, None, EntryStatus.PENDING)


class HeldFirst(httpx.AsyncBaseTransport):
    """Passes requests on to `inner`, holding the first one until `go_on` is set."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sending, self.go_on = asyncio.Event(), asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.sending.is_set():
            self.sending.set()
            await self.go_on.wait()
        return await self.inner.handle_async_request(request)


async def test_a_worker_whose_lease_was_taken_over_mid_reply_sends_no_further_part(
    settings: Settings, chat_api: InProcessSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    store = InMemoryStore()
    key = await journal(store, "tell me a long story")
    await store.save_reply(key, ["part one.", "part two.", "part three."], token=0)
    held = HeldFirst(chat_api.transport)
    sending, go_on = held.sending, held.go_on

    short = settings.model_copy(update={"lease_seconds": 1.0})
    app = create_app(short, transport=held, provider=EchoProvider(), store=store)
    async with chat_api.running(app):
        await sending.wait()
        [taken] = await store.claim(now=time.time() + 60, lease_seconds=60, limit=1)
        await _until(lambda: "was taken over" in caplog.text, "a heartbeat found the lease gone")
        go_on.set()
        await _until(lambda: "lost the lease" in caplog.text, "the stale worker noticed")

    assert sent_texts(chat_api) == ["part one."]
    entry = await store.get(key)
    assert entry is not None
    assert (entry.token, entry.sent_parts) == (taken.token, 0)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_under_concurrency_each_conversation_is_answered_in_order_with_its_history(
    settings: Settings, chat_api: InProcessSandbox, tmp_path: Path, kind: str
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
    for user in users:
        chat_api.add_user(user)
    app = create_app(settings, transport=chat_api.transport, provider=Jittery(), store=store)
    intake = wiring_of(app).intake
    async with chat_api.running(app):
        bodies = [
            c2c_body(f"{user} #{n}", sender=user, seq=n * len(users) + index)
            for n in range(per_user)
            for index, user in enumerate(users)
        ]
        await asyncio.gather(*(intake.record(parse_callback("Bot.OnC2CMessage", body)) for body in bodies))
        await _until(lambda: len(sent(chat_api)) == len(bodies), "every message answered")

    if kind == "sqlite":
        await store.close()
    for user in users:
        replies = [text for recipient, text in answered(chat_api) if recipient == user]
        assert replies == [f"echo: {user} #{n}" for n in range(per_user)]
        assert prompts[f"{user} #{per_user - 1}"] == [f"{user} #{n}" for n in range(per_user)]


async def test_thousands_of_held_leases_are_renewed_in_batches_each_in_its_own_store_call(
    settings: Settings, chat_api: InProcessSandbox
) -> None:
    batches: list[int] = []

    class Counting(InMemoryStore):
        async def renew(
            self, leases: Sequence[tuple[str, int]], *, now: float, lease_seconds: float
        ) -> list[str]:
            batches.append(len(leases))
            return await super().renew(leases, now=now, lease_seconds=lease_seconds)

    held = RENEW_BATCH * 2 + 10
    many = settings.model_copy(update={"max_in_flight": held, "lease_seconds": 0.3})
    app = create_app(many, transport=chat_api.transport, provider=Hanging(), store=Counting())
    intake = wiring_of(app).intake
    async with chat_api.running(app):
        for n in range(held):
            await intake.record(parse_callback("Bot.OnC2CMessage", c2c_body("hi", sender=f"u{n}", seq=n + 1)))

        async def all_held() -> bool | None:
            return intake.in_flight == held or None

        async def renewed_twice() -> bool | None:
            return sum(batches) >= 2 * held or None

        await await_until(all_held, timeout=10, failure=f"{held} answers held")
        await await_until(renewed_twice, timeout=10, failure="every lease renewed twice")
        await intake.stop(grace_seconds=0.01)  # the model never answers: no point waiting

    assert max(batches) == RENEW_BATCH
    assert batches[:3] == [RENEW_BATCH, RENEW_BATCH, 10]
