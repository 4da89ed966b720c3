"""A stream cut off mid-answer is closed by whoever resumes the journal entry, never left open.

The first bot is stopped while its model is still writing (its answers cut off and handed back to
the journal, as at shutdown); a second bot on the same store resumes the entry. The process kill
itself is in `test_stream_kill.py`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from botkit.app import create_app, wiring_of
from botkit.config import StreamMode
from botkit.store.inmemory import InMemoryStore
from botkit.streamrun import CUT_NOTE, StreamState
from sandbox.harness import InProcessSandbox
from sandbox.models import C2CRecord
from sandbox.streams import stream_ended, visible_text
from tests.sandbox.test_streaming import ANSWER, new_clock, settings
from tests.virtualtime import ScriptedModel, VirtualClock, words

FOREVER = 3600.0


async def until(done: Callable[[], bool], clock: VirtualClock, seconds: float = 60.0) -> None:
    """Let virtual time pass until `done()`; fail after `seconds` of it."""
    deadline = clock.now + seconds
    while not done():
        assert clock.now < deadline, "timed out"
        await clock.sleep(0.05)


async def cut_off_mid_stream(
    mode: StreamMode, local: InProcessSandbox, store: InMemoryStore, clock: VirtualClock
) -> tuple[C2CRecord, str]:
    """Ask, let the model write part of the answer, then stop the bot; (question, text shown)."""
    model = ScriptedModel([*words(ANSWER, every=0.05), (FOREVER, " never")], clock)
    bot = create_app(settings(mode), transport=local.transport, provider=model, store=store,
                     clock=clock.time, sleep=clock.sleep)  # fmt: skip
    async with clock.running(), local.running(bot):
        sent = local.send_c2c(local.user, local.robot, "What is a UserSig?")
        await until(lambda: len(_shown(local, sent).split()) >= 12, clock)
        await wiring_of(bot).intake.stop(grace_seconds=0)  # cut off now, mid-stream
    return sent, _shown(local, sent)


def _shown(local: InProcessSandbox, sent: C2CRecord) -> str:
    return "".join(visible_text(reply.body) for reply in local.c2c_replies(sent))


async def resume(
    mode: StreamMode, local: InProcessSandbox, store: InMemoryStore, clock: VirtualClock
) -> None:
    model = ScriptedModel([(0.05, "unused")], clock)
    bot = create_app(settings(mode), transport=local.transport, provider=model, store=store,
                     clock=clock.time, sleep=clock.sleep)  # fmt: skip
    async with clock.running(), local.running(bot):
        await local.settle()


def stream_calls(local: InProcessSandbox) -> list[str]:
    return [entry.url for entry in local.backend.traffic.list(newest_first=False, kind="rest")]


@pytest.mark.parametrize("mode", ["robot", "native", "edit"])
async def test_a_stream_cut_off_is_closed_on_restart_with_what_it_showed_and_the_note(
    mode: StreamMode,
) -> None:
    clock, store = new_clock(), InMemoryStore()
    local = InProcessSandbox(settings(mode), clock=clock.time)
    try:
        sent, before = await cut_off_mid_stream(mode, local, store, clock)
        [reply] = local.c2c_replies(sent)
        assert not stream_ended(reply.body) or mode == "edit"
        await resume(mode, local, store, clock)
        [reply] = local.c2c_replies(sent)
        assert stream_ended(reply.body)
        assert visible_text(reply.body) == f"{before}\n\n{CUT_NOTE}"
        assert (await store.backlog()) == 0
    finally:
        local.close()


@pytest.mark.parametrize("mode", ["robot", "native", "edit"])
async def test_a_stream_whose_answer_was_journalled_is_closed_with_the_whole_answer(mode: StreamMode) -> None:
    clock, store = new_clock(), InMemoryStore()
    local = InProcessSandbox(settings(mode), clock=clock.time)
    try:
        sent, _ = await cut_off_mid_stream(mode, local, store, clock)
        # Say the model had finished: the journal holds the whole answer.
        [entry] = await store.claim(now=clock.now, lease_seconds=1.0, limit=10)
        state = StreamState.model_validate_json(entry.stream or "")
        whole = state.model_copy(update={"final": ANSWER}).model_dump_json()
        await store.save_stream(entry.key, whole, token=entry.token)
        await store.release(entry.key, token=entry.token, now=clock.now)
        await resume(mode, local, store, clock)
        [reply] = local.c2c_replies(sent)
        assert visible_text(reply.body) == ANSWER
        assert stream_ended(reply.body)
    finally:
        local.close()


@pytest.mark.parametrize("mode", ["robot", "native"])
async def test_a_stream_idle_too_long_is_not_written_again_and_the_note_follows(mode: StreamMode) -> None:
    clock, store = new_clock(), InMemoryStore()
    local = InProcessSandbox(settings(mode), clock=clock.time)
    try:
        sent, before = await cut_off_mid_stream(mode, local, store, clock)
        calls_before = len(stream_calls(local))
        clock.now += 20.0  # the restart took longer than Tencent keeps a silent stream open
        await resume(mode, local, store, clock)
        first, note = local.c2c_replies(sent)
        assert visible_text(first.body) == before
        assert visible_text(note.body) == CUT_NOTE
        new_calls = stream_calls(local)[calls_before:]
        assert [url for url in new_calls if "stream" in url] == [], "wrote to a stream Tencent had ended"
        assert all(e.response["ErrorCode"] == 0 for e in local.backend.traffic.list(kind="rest"))
    finally:
        local.close()
