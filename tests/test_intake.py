"""Durable intake: work recorded before a crash is answered after restart, resumed, not repeated."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from botkit.app import create_app
from botkit.callbacks import parse_callback
from botkit.config import Settings
from botkit.handler import reply_random
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
    assert await store.record(message.dedupe_key, payload, now=0.0)
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
    await store.save_reply(key, ["part one.", "part two."])
    await store.mark_sent(key, 1)

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
    await store.save_reply(key, ["the answer given before the crash"])
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
    quick = settings.model_copy(update={"workers": 1})
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

        async def finish(self, key: str, status: EntryStatus, error: str | None = None) -> None:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("store unreachable")
            await super().finish(key, status, error)

    store = FailsToFinishOnce()
    await journal(store, "first", seq=1)
    chat = FakeChat()
    one_worker = settings.model_copy(update={"workers": 1})
    app = create_app(one_worker, transport=httpx.MockTransport(chat), provider=EchoProvider(), store=store)
    async with app.router.lifespan_context(app):
        await app.state.intake.wait_idle()
        await app.state.intake.record(parse_callback("Bot.OnC2CMessage", c2c_body("second", seq=2)))
        deadline = asyncio.get_running_loop().time() + 5
        while len(chat.sent("openim/sendmsg")) < 2:
            assert asyncio.get_running_loop().time() < deadline, "the worker stopped after the failure"
            await asyncio.sleep(0.01)

    assert "cannot record the outcome" in caplog.text
