"""Streamed replies end to end: botkit streams a scripted model's answer into the sandbox, in each
mode, on one virtual clock; the sandbox's record of calls shows Tencent's rules held."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest

from botkit.app import create_app
from botkit.config import Settings, StreamMode
from botkit.elements import msg_body_adapter
from botkit.restmodels import body_size
from botkit.streamrun import CUT_NOTE, KEEPALIVE_SECONDS
from sandbox.harness import InProcessSandbox
from sandbox.models import C2CRecord, GroupRecord
from sandbox.streams import stream_ended, visible_text
from sandbox.traffic import TrafficEntry
from tests.support import suite_settings
from tests.virtualtime import ScriptedModel, VirtualClock, words

ANSWER = (
    "A UserSig is a signed login ticket. Your server makes it from the app's secret key, and the "
    "client presents it when it logs in. It expires, so make a new one before then. Keep the key "
    "on the server: anyone who has it can sign in as any user of the app."
)
COMMANDS = {
    "robot": ["openim_robot_http_svc/send_stream_msg"],
    "native": ["stream_msg/send_c2c_stream_msg", "stream_msg/send_group_stream_msg"],
    "edit": ["openim/sendmsg", "openim/modify_c2c_msg", "group_open_http_svc/send_group_msg",
             "openim/modify_group_msg"],
}  # fmt: skip
EPSILON = 1e-6  # virtual times near 1.7e9 are exact to about 2e-7 s


def settings(mode: StreamMode) -> Settings:
    return suite_settings(
        stream=mode,
        lease_seconds=600,  # leases run on the virtual clock too; a stall must not look like a crash
        rest_rate_limit=0,  # its pacing sleeps in real time, which the virtual clock would run past
    )


@asynccontextmanager
async def streaming(mode: StreamMode, model: Any, clock: VirtualClock) -> AsyncIterator[InProcessSandbox]:
    local = InProcessSandbox(settings(mode), clock=clock.time)
    bot = create_app(
        settings(mode), transport=local.transport, provider=model, clock=clock.time, sleep=clock.sleep
    )
    try:
        async with clock.running(), local.running(bot):
            yield local
    finally:
        local.close()


def new_clock() -> VirtualClock:
    return VirtualClock(start=float(int(time.time())))  # UserSigs are signed on the real clock


async def ask(local: InProcessSandbox, text: str = "What is a UserSig?") -> list[C2CRecord]:
    sent = local.send_c2c(local.user, local.robot, text)
    await local.settle()
    return local.c2c_replies(sent)


def calls(local: InProcessSandbox, mode: str) -> list[TrafficEntry]:
    paths = {f"/v4/{command}" for command in COMMANDS[mode]}
    entries = local.backend.traffic.list(newest_first=False, kind="rest")
    return [entry for entry in entries if urlsplit(entry.url).path in paths]


def assert_rules(entries: Sequence[TrafficEntry], mode: str) -> None:
    """Tencent's rules on the sandbox's record: every call accepted, paced, never idle 15 s, small."""
    assert entries, "no stream calls"
    assert all(entry.response["ErrorCode"] == 0 for entry in entries), [e.response for e in entries]
    times = [entry.time for entry in entries]
    assert max((b - a for a, b in itertools.pairwise(times)), default=0) <= 15.0
    for message in _by_message(entries).values():
        at = [entry.time for entry in message]
        if mode == "edit":  # at most one edit a second
            assert all(b - a >= 1.0 - EPSILON for a, b in itertools.pairwise(at))
        else:  # no six continuation calls within one second
            assert all(b - a >= 1.0 - EPSILON for a, b in zip(at[1:], at[6:], strict=False))
    for entry in entries:
        body = entry.request.get("MsgBody")
        size = body_size(msg_body_adapter.validate_python(body)) if body else len(entry.request["Chunk"])
        assert size < 12 * 1024


@pytest.mark.parametrize("mode", ["robot", "native", "edit"])
async def test_each_mode_streams_the_answer_and_keeps_the_rules(mode: StreamMode) -> None:
    clock = new_clock()
    model = ScriptedModel(words(ANSWER, every=0.05), clock)  # 20 tokens a second
    async with streaming(mode, model, clock) as local:
        [reply] = await ask(local)
        assert visible_text(reply.body) == model.answer
        assert stream_ended(reply.body)
        entries = calls(local, mode)
        assert_rules(entries, mode)
        assert len(entries) >= (3 if mode == "edit" else 8), "the text arrived in one go, not streamed"
        assert local.rest_calls("openim/sendmsg") == [] or mode == "edit", "no whole reply besides"


@pytest.mark.parametrize("mode", ["robot", "native"])
async def test_a_stalled_model_gets_keepalives_and_no_gap_reaches_15_s(mode: StreamMode) -> None:
    clock = new_clock()
    steps = [*words("Let me think about that", every=0.05), (22.0, " for a while."), (0.05, " Done.")]
    model = ScriptedModel(steps, clock)
    async with streaming(mode, model, clock) as local:
        [reply] = await ask(local)
        assert visible_text(reply.body) == model.answer
        entries = calls(local, mode)
        assert_rules(entries, mode)
        keepalives = [e for e in entries if _added(e) == "" and not _ends(e)]
        assert len(keepalives) == 2  # 22 s of silence, one every 10 s
        assert 0 < KEEPALIVE_SECONDS < 15


def _by_message(entries: Sequence[TrafficEntry]) -> dict[str, list[TrafficEntry]]:
    """The calls of each streamed (or edited) message, by the handle its first call answered."""
    found: dict[str, list[TrafficEntry]] = {}
    for entry in entries:
        request, response = entry.request, entry.response
        if urlsplit(entry.url).path.endswith("modify_group_msg"):
            handle = request["MsgSeq"]
        elif request.get("MsgKey"):  # a robot stream's later call, or a 1:1 edit
            handle = request["MsgKey"]
        else:  # a native stream's later call, or any first call
            elem = request["MsgBody"][0] if request.get("MsgBody") else {}
            handle = elem.get("MsgContent", {}).get("StreamMsgID")
            handle = handle or response.get("StreamMsgID") or response.get("MsgKey") or response.get("MsgSeq")
        found.setdefault(str(handle), []).append(entry)
    return found


def _added(entry: TrafficEntry) -> str:
    if "Chunk" in entry.request:
        return str(entry.request["Chunk"])
    return "".join(c["Markdown"] for c in entry.request["MsgBody"][0]["MsgContent"]["Chunks"])


def _ends(entry: TrafficEntry) -> bool:
    if "Chunk" in entry.request:
        return bool(entry.request.get("Finish") == 1)
    return any(c["IsLast"] for c in entry.request["MsgBody"][0]["MsgContent"]["Chunks"])


@pytest.mark.parametrize("mode", ["robot", "native", "edit"])
async def test_a_model_failing_mid_stream_ends_the_stream_with_a_note(mode: StreamMode) -> None:
    clock = new_clock()
    model = ScriptedModel(words(ANSWER, every=0.05), clock, fail_after=12)
    async with streaming(mode, model, clock) as local:
        [reply] = await ask(local)
        assert visible_text(reply.body) == f"{model.answer.rstrip()}\n\n{CUT_NOTE}"
        assert stream_ended(reply.body)
        assert_rules(calls(local, mode), mode)


@pytest.mark.parametrize("mode", ["robot", "native", "edit"])
async def test_an_answer_done_before_anything_shows_is_sent_whole(mode: StreamMode) -> None:
    clock = new_clock()
    model = ScriptedModel([(0.0, "Hi. "), (0.0, "All done.")], clock)
    async with streaming(mode, model, clock) as local:
        [reply] = await ask(local)
        assert visible_text(reply.body) == "Hi. All done."
        sends = local.rest_calls("openim/sendmsg")
        assert len(sends) == 1 and sends[0].request["MsgBody"][0]["MsgType"] == "TIMTextElem"
        assert calls(local, mode) == sends if mode == "edit" else calls(local, mode) == []


@pytest.mark.parametrize(("mode", "used"), [("native", "native"), ("robot", "edit"), ("edit", "edit")])
async def test_a_group_reply_streams_with_the_mention_or_falls_back_to_edit(
    mode: StreamMode, used: str
) -> None:
    clock = new_clock()
    model = ScriptedModel(words(ANSWER, every=0.05), clock)
    async with streaming(mode, model, clock) as local:
        sent = local.send_group(local.user, "what is a UserSig?")
        await local.settle()
        [reply] = local.group_replies(sent)
        assert isinstance(reply, GroupRecord)
        assert visible_text(reply.body) == f"@{local.user} {model.answer}"
        assert stream_ended(reply.body)
        entries = calls(local, used)
        assert_rules(entries, used)
        assert local.rest_calls("openim_robot_http_svc/send_stream_msg") == []


@pytest.mark.parametrize("mode", ["robot", "native", "edit"])
async def test_a_long_answer_overflows_into_a_follow_up_message(mode: StreamMode) -> None:
    clock = new_clock()
    long_answer = " ".join(f"word{n}" for n in range(2600))  # about 20 KB
    model = ScriptedModel(words(long_answer, every=0.005), clock)
    async with streaming(mode, model, clock) as local:
        replies = await ask(local)
        assert len(replies) >= 2
        assert " ".join(visible_text(reply.body) for reply in replies) == long_answer
        assert all(stream_ended(reply.body) for reply in replies)
        assert_rules(calls(local, mode), mode)


async def test_typing_is_sent_while_the_model_thinks_and_never_stored() -> None:
    clock = new_clock()
    model = ScriptedModel([(3.0, "Here "), (0.05, "it is.")], clock)
    async with streaming("native", model, clock) as local:
        [reply] = await ask(local)
        assert visible_text(reply.body) == "Here it is."
        typing = local.rest_calls("openim/sendmsg")
        assert typing, "no typing… signal"
        assert all(entry.request["OnlineOnlyFlag"] == 1 for entry in typing)
        assert typing[0].request["MsgBody"][0]["MsgType"] == "TIMCustomElem"
        assert "user_typing_status" in typing[0].request["MsgBody"][0]["MsgContent"]["Data"]


@pytest.mark.parametrize("mode", ["robot", "native", "edit"])
async def test_one_conversation_is_answered_in_order_each_message_once(mode: StreamMode) -> None:
    clock = new_clock()
    model = ScriptedModel(words(ANSWER, every=0.05), clock)
    async with streaming(mode, model, clock) as local:
        first = local.send_c2c(local.user, local.robot, "first question")
        second = local.send_c2c(local.user, local.robot, "second question")
        await local.backend.dispatcher.drain()
        local.backend.replay([call for call in local.backend.recording if call.kind == "callback"])
        await local.settle()  # both delivered twice: each answered once
        replies = local.c2c_replies(first)
        assert [visible_text(reply.body) for reply in replies] == [model.answer, model.answer]
        assert all(stream_ended(reply.body) for reply in replies)
        assert len(local.c2c_replies(second)) == 2  # both answers came after both questions
        # The second answer's message opened only once the first one's had been ended.
        first_message, second_message = _by_message(calls(local, mode)).values()
        assert second_message[0].time >= first_message[-1].time
