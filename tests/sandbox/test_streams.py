"""Streamed messages in the sandbox: the robot stream and the native C2C and group streams, each
rule (rate, gap, end, size) answering its code, on the sandbox's settable clock."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.models import C2CRecord
from sandbox.streams import stream_ended, visible_text
from sandbox.uiviews import chat_messages
from tests.support import ROBOT

from .conftest import Harness

ROBOT_STREAM = "openim_robot_http_svc/send_stream_msg"
C2C_STREAM = "stream_msg/send_c2c_stream_msg"
GROUP_STREAM = "stream_msg/send_group_stream_msg"
ROAM = "openim/admin_getroammsg"


def chunk(index: int, markdown: str, *, last: bool = False, stream_id: str | None = None) -> list[Any]:
    content: dict[str, Any] = {
        "Chunks": [{"EventType": "data", "Index": index, "Markdown": markdown, "IsLast": last}],
        "CompatibleText": "please update the app to see this answer",
    }
    if stream_id is not None:
        content["StreamMsgID"] = stream_id
    return [{"MsgType": "TIMStreamElem", "MsgContent": content}]


def c2c_call(index: int, markdown: str, **kwargs: Any) -> dict[str, Any]:
    return {
        "From_Account": ROBOT,
        "To_Account": "alice",
        "MsgSeq": 9,
        "MsgRandom": 77,
        "MsgBody": chunk(index, markdown, **kwargs),
    }


def robot_call(text: str, key: str | None = None, *, finish: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"From_Account": ROBOT, "To_Account": "alice", "Chunk": text}
    if key is not None:
        body["MsgKey"] = key
    if finish:
        body["Finish"] = 1
    return body


def shown(harness: Harness) -> list[C2CRecord]:
    return [r for r in harness.backend.state.c2c_history("alice", ROBOT)[::-1] if r.from_account == ROBOT]


async def open_stream(harness: Harness, kind: str) -> tuple[str, Any]:
    """Open a stream of `kind` with "Hello"; returns its id and a function making the next call."""
    if kind == "robot":
        key = (await harness.ok(ROBOT_STREAM, robot_call("Hello")))["MsgKey"]
        return key, lambda n, text, last=False: robot_call(text, key, finish=last)
    stream_id = (await harness.ok(C2C_STREAM, c2c_call(1, "Hello")))["StreamMsgID"]
    return stream_id, lambda n, text, last=False: c2c_call(n, text, last=last, stream_id=stream_id)


@pytest.mark.parametrize("kind", ["robot", "native"])
async def test_a_stream_grows_in_the_history_and_ends(harness: Harness, kind: str) -> None:
    _, call = await open_stream(harness, kind)
    command = ROBOT_STREAM if kind == "robot" else C2C_STREAM
    [record] = shown(harness)
    assert visible_text(record.body) == "Hello"
    assert not stream_ended(record.body)

    harness.clock.advance(0.3)
    await harness.ok(command, call(2, ", world"))
    assert visible_text(shown(harness)[0].body) == "Hello, world"
    harness.clock.advance(0.3)
    await harness.ok(command, call(3, "!", True))
    [record] = shown(harness)
    assert visible_text(record.body) == "Hello, world!"
    assert stream_ended(record.body)
    # History as a client reads it, and the sandbox's chat pane, show the text so far.
    roam = await harness.ok(ROAM, {"Operator_Account": "alice", "Peer_Account": ROBOT, "MaxCnt": 10,
                                    "MinTime": 0, "MaxTime": 2**32 - 1})  # fmt: skip
    assert roam["MsgCnt"] == 1
    assert "Hello, world!" in chat_messages([record], "alice")[0]["content"]

    harness.clock.advance(0.3)
    after_end = await harness.rest(command, call(4, " more"))
    assert after_end["ErrorCode"] == 10004
    assert "ended" in after_end["ErrorInfo"]
    assert visible_text(shown(harness)[0].body) == "Hello, world!"


@pytest.mark.parametrize("kind", ["robot", "native"])
async def test_a_sixth_continuation_within_a_second_gets_60018(harness: Harness, kind: str) -> None:
    _, call = await open_stream(harness, kind)
    command = ROBOT_STREAM if kind == "robot" else C2C_STREAM
    for n in range(2, 7):
        harness.clock.advance(0.1)
        await harness.ok(command, call(n, f" {n}"))
    harness.clock.advance(0.1)
    refused = await harness.rest(command, call(7, " 7"))
    assert refused["ErrorCode"] == 60018
    assert visible_text(shown(harness)[0].body) == "Hello 2 3 4 5 6"  # the refused call changed nothing
    harness.clock.advance(0.6)  # the first of the five is more than a second old now
    await harness.ok(command, call(7, " 7"))


@pytest.mark.parametrize("kind", ["robot", "native"])
async def test_a_gap_over_15_s_ends_the_stream(harness: Harness, kind: str) -> None:
    _, call = await open_stream(harness, kind)
    command = ROBOT_STREAM if kind == "robot" else C2C_STREAM
    harness.clock.advance(15.0)
    await harness.ok(command, call(2, " still"))  # 15 s exactly is still in time
    harness.clock.advance(16.0)
    late = await harness.rest(command, call(3, " here?"))
    assert late["ErrorCode"] == 10004
    assert "15 s" in late["ErrorInfo"]
    harness.clock.advance(0.3)
    assert (await harness.rest(command, call(4, " hello?", True)))["ErrorCode"] == 10004


async def test_oversize_bodies_and_streams_get_80002(harness: Harness) -> None:
    big = "x" * (12 * 1024 + 1)
    assert (await harness.rest(ROBOT_STREAM, robot_call(big)))["ErrorCode"] == 80002
    assert (await harness.rest(C2C_STREAM, c2c_call(1, big)))["ErrorCode"] == 80002

    _, call = await open_stream(harness, "robot")
    ten_kb = "y" * (10 * 1024)
    for n in range(12):  # 12 times 10 KB so far: under 128 KB
        harness.clock.advance(0.3)
        await harness.ok(ROBOT_STREAM, call(n + 2, ten_kb))
    harness.clock.advance(0.3)
    too_much = await harness.rest(ROBOT_STREAM, call(14, ten_kb))
    assert too_much["ErrorCode"] == 80002
    assert "128 KB" in too_much["ErrorInfo"]


async def test_native_retries_and_repeated_first_calls_change_nothing(harness: Harness) -> None:
    stream_id, call = await open_stream(harness, "native")
    again = await harness.ok(C2C_STREAM, c2c_call(1, "Hello"))
    assert again["StreamMsgID"] == stream_id
    harness.clock.advance(0.3)
    await harness.ok(C2C_STREAM, call(2, " there"))
    harness.clock.advance(0.3)
    await harness.ok(C2C_STREAM, call(2, " there"))  # a retry of the same chunk
    assert [visible_text(r.body) for r in shown(harness)] == ["Hello there"]


async def test_unknown_stream_ids_and_bad_stream_bodies_are_refused(harness: Harness) -> None:
    assert (await harness.rest(ROBOT_STREAM, robot_call("hi", "1_2_3")))["ErrorCode"] == 10004
    unknown = c2c_call(2, "hi", stream_id="0" * 32)
    assert (await harness.rest(C2C_STREAM, unknown))["ErrorCode"] == 10004
    text_body = c2c_call(1, "hi") | {"MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}
    assert (await harness.rest(C2C_STREAM, text_body))["ErrorCode"] == 90002
    assert (await harness.rest(ROBOT_STREAM, robot_call("hi") | {"From_Account": "bob"}))[
        "ErrorCode"
    ] == 10004


@pytest.mark.parametrize("random_field", ["MsgRandom", "Random"])
async def test_a_group_stream_shows_in_the_group_history(harness: Harness, random_field: str) -> None:
    group = (
        await harness.ok(
            "group_open_http_svc/create_group",
            {
                "Type": "Public",
                "Name": "g",
                "Owner_Account": "alice",
                "MemberList": [{"Member_Account": ROBOT}],
            },
        )
    )["GroupId"]
    first = {"GroupId": group, "From_Account": ROBOT, random_field: 5, "MsgBody": chunk(1, "Hi all")}
    stream_id = (await harness.ok(GROUP_STREAM, first))["StreamMsgID"]
    harness.clock.advance(0.3)
    last = first | {"MsgBody": chunk(2, ", bye", last=True, stream_id=stream_id)}
    answer = await harness.ok(GROUP_STREAM, last)
    assert answer["MsgSeq"] == 1
    [record] = harness.backend.state.group_history(group)
    assert visible_text(record.body) == "Hi all, bye"
    assert stream_ended(record.body)
