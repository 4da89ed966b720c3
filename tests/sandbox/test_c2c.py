"""1:1 messages: sendmsg checks and answer, 12 KB limit, 120 s de-dup, batch, history, modify."""

from __future__ import annotations

from typing import Any

import pytest

from botkit.elements import body_text, msg_body_adapter, text_body
from botkit.restrequests import SendC2CRequest
from tests.support import ADMIN, ROBOT

from .conftest import Harness, text_msg

SEND = "openim/sendmsg"
BATCH = "openim/batchsendmsg"
ROAM = "openim/admin_getroammsg"
MODIFY = "openim/modify_c2c_msg"


def message(text: str = "hi", **fields: Any) -> dict[str, Any]:
    request = SendC2CRequest(from_account="alice", to_account="bob", msg_random=42, msg_body=text_body(text))
    return request.to_wire() | fields


def texts(harness: Harness, a: str = "alice", b: str = "bob") -> list[str]:
    history = harness.backend.state.c2c_history(a, b)
    return [body_text(record.body) for record in reversed(history)]


async def test_sendmsg_answers_msg_time_and_msg_key(harness: Harness) -> None:
    answer = await harness.ok(SEND, message(MsgSeq=7001))
    now = int(harness.clock())
    assert answer["MsgTime"] == now
    assert answer["MsgKey"] == f"7001_42_{now}"
    assert texts(harness) == ["hi"]


@pytest.mark.parametrize(("sync", "senders_view"), [(None, ["hi"]), (1, ["hi"]), (2, [])])
async def test_sync_other_machine_2_keeps_the_message_out_of_the_senders_history(
    harness: Harness, sync: int | None, senders_view: list[str]
) -> None:
    """sendmsg (https://trtc.io/document/34919): 1 syncs to the sender's roaming history, 2 does not;
    the recipient has the message either way (admin_getroammsg, https://trtc.io/document/35478)."""
    await harness.ok(SEND, message() if sync is None else message(SyncOtherMachine=sync))
    assert texts(harness, "alice", "bob") == senders_view
    assert texts(harness, "bob", "alice") == ["hi"]


async def test_sendmsg_defaults_the_sender_to_the_admin(harness: Harness) -> None:
    await harness.ok(SEND, {"To_Account": "bob", "MsgRandom": 1, "MsgBody": text_msg("from admin")})
    assert texts(harness, ADMIN, "bob") == ["from admin"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"To_Account": None}, 90012),
        ({"To_Account": "ghost"}, 90012),
        ({"To_Account": ["bob"]}, 90012),
        ({"MsgRandom": None}, 90005),
        ({"MsgRandom": "42"}, 90005),
        ({"MsgRandom": -1}, 90005),
        ({"MsgRandom": 2**32}, 90005),
        ({"MsgRandom": True}, 90005),
        ({"MsgBody": None}, 90007),
        ({"MsgBody": {"MsgType": "TIMTextElem"}}, 90007),
        ({"MsgBody": []}, 90002),
        ({"MsgBody": [{"MsgType": "TIMTextElem"}]}, 90002),
        ({"MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": 5}}]}, 90002),
        ({"MsgBody": ["text"]}, 90002),
        ({"From_Account": "ghost"}, 90008),
        ({"From_Account": 5}, 90008),
        ({"MsgLifeTime": 604801}, 90026),
        ({"MsgSeq": "1"}, 90010),
        ({"SyncOtherMachine": "x"}, 90010),
        ({"SyncOtherMachine": 0}, 90010),
        ({"SyncOtherMachine": 3}, 90010),
    ],
)
async def test_sendmsg_field_errors(harness: Harness, change: dict[str, Any], code: int) -> None:
    body = {name: value for name, value in (message() | change).items() if value is not None}
    answer = await harness.rest(SEND, body)
    assert (answer["ActionStatus"], answer["ErrorCode"]) == ("FAIL", code)
    assert texts(harness) == []


@pytest.mark.parametrize(
    ("text", "code"),
    [("a" * 12288, 0), ("a" * 12289, 80002), ("字" * 4096, 0), ("字" * 4097, 80002)],
)
async def test_body_over_12_kb_answers_80002(harness: Harness, text: str, code: int) -> None:
    assert (await harness.rest(SEND, message(text)))["ErrorCode"] == code


async def test_size_is_the_sum_of_all_content_fields(harness: Harness) -> None:
    custom = {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "d" * 6000, "Desc": "e" * 300}}
    body = [*text_msg("a" * 6000), custom]
    assert (await harness.rest(SEND, message() | {"MsgBody": body}))["ErrorCode"] == 80002


async def test_repeat_within_120_s_is_dropped_but_answered_ok(harness: Harness) -> None:
    first = await harness.ok(SEND, message(MsgSeq=5))
    harness.clock.advance(120)
    again = await harness.ok(SEND, message(MsgSeq=5))
    assert again["MsgKey"] == first["MsgKey"]
    assert again["MsgTime"] == first["MsgTime"]
    assert texts(harness) == ["hi"]


@pytest.mark.parametrize(
    ("change", "advance"),
    [({}, 121), ({"MsgSeq": 6}, 0), ({"MsgRandom": 43}, 0), ({"MsgBody": text_msg("other")}, 0)],
)
async def test_anything_else_is_a_new_message(harness: Harness, change: dict[str, Any], advance: int) -> None:
    await harness.ok(SEND, message(MsgSeq=5))
    harness.clock.advance(advance)
    await harness.ok(SEND, message(MsgSeq=5) | change)
    assert len(texts(harness)) == 2


async def test_batchsendmsg_reports_unknown_recipients(harness: Harness) -> None:
    body = {"To_Account": ["alice", "bob", "ghost"], "MsgRandom": 9, "MsgSeq": 3, "MsgBody": text_msg("news")}
    answer = await harness.ok(BATCH, body)
    assert answer["ErrorList"] == [{"To_Account": "ghost", "ErrorCode": 70107}]
    assert answer["MsgKey"] == f"3_9_{int(harness.clock())}"
    assert texts(harness, ADMIN, "alice") == texts(harness, ADMIN, "bob") == ["news"]


@pytest.mark.parametrize(
    ("targets", "code"), [("bob", 90012), ([], 90012), ([1], 90012), ([f"u{i}" for i in range(501)], 90011)]
)
async def test_batchsendmsg_rejects_bad_recipient_lists(harness: Harness, targets: Any, code: int) -> None:
    body = {"To_Account": targets, "MsgRandom": 9, "MsgBody": text_msg("news")}
    assert (await harness.rest(BATCH, body))["ErrorCode"] == code


async def test_batchsendmsg_fires_no_callbacks(harness: Harness) -> None:
    await harness.ok(BATCH, {"To_Account": [ROBOT, "bob"], "MsgRandom": 9, "MsgBody": text_msg("news")})
    assert await harness.sent_callbacks() == []


async def send_three(harness: Harness) -> list[dict[str, Any]]:
    answers = []
    for index, (sender, receiver) in enumerate([("alice", "bob"), ("bob", "alice"), ("alice", "bob")]):
        body = message(f"m{index}", From_Account=sender, To_Account=receiver, MsgSeq=index + 1)
        answers.append(await harness.ok(SEND, body))
        harness.clock.advance(10)
    return answers


async def test_getroammsg_pages_backwards_in_time(harness: Harness) -> None:
    sent = await send_three(harness)
    query = {
        "Operator_Account": "alice",
        "Peer_Account": "bob",
        "MaxCnt": 2,
        "MinTime": 0,
        "MaxTime": 2**32 - 1,
    }
    first = await harness.ok(ROAM, query)
    assert (first["Complete"], first["MsgCnt"]) == (0, 2)
    assert [item["MsgKey"] for item in first["MsgList"]] == [sent[1]["MsgKey"], sent[2]["MsgKey"]]
    assert (first["LastMsgKey"], first["LastMsgTime"]) == (sent[1]["MsgKey"], sent[1]["MsgTime"])
    item = first["MsgList"][0]
    assert item["From_Account"] == "bob" and item["To_Account"] == "alice"
    assert msg_body_adapter.validate_python(item["MsgBody"])
    assert {"MsgSeq", "MsgRandom", "MsgTimeStamp", "MsgFlagBits", "CloudCustomData"} <= item.keys()
    assert item["IsPeerRead"] == 0
    rest = await harness.ok(
        ROAM, query | {"MaxTime": first["LastMsgTime"], "LastMsgKey": first["LastMsgKey"]}
    )
    assert (rest["Complete"], [item["MsgKey"] for item in rest["MsgList"]]) == (1, [sent[0]["MsgKey"]])


async def test_getroammsg_keeps_to_the_time_range(harness: Harness) -> None:
    sent = await send_three(harness)
    window = {"MinTime": sent[1]["MsgTime"], "MaxTime": sent[1]["MsgTime"]}
    answer = await harness.ok(
        ROAM, {"Operator_Account": "bob", "Peer_Account": "alice", "MaxCnt": 50} | window
    )
    assert [item["MsgKey"] for item in answer["MsgList"]] == [sent[1]["MsgKey"]]


@pytest.mark.parametrize(
    ("change", "code"),
    [({"MaxCnt": None}, 90010), ({"Peer_Account": None}, 90010), ({"Peer_Account": "x"}, 70107)],
)
async def test_getroammsg_errors(harness: Harness, change: dict[str, Any], code: int) -> None:
    query = {
        "Operator_Account": "alice",
        "Peer_Account": "bob",
        "MaxCnt": 2,
        "MinTime": 0,
        "MaxTime": 9,
    } | change
    body = {name: value for name, value in query.items() if value is not None}
    assert (await harness.rest(ROAM, body))["ErrorCode"] == code


async def test_modify_c2c_msg_overwrites_the_body(harness: Harness) -> None:
    sent = await harness.ok(SEND, message("draft"))
    edit = {
        "From_Account": "alice",
        "To_Account": "bob",
        "MsgKey": sent["MsgKey"],
        "MsgBody": text_msg("final"),
    }
    answer = await harness.ok(MODIFY, edit)
    assert answer == {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
    assert texts(harness) == ["final"]


async def test_modify_c2c_msg_can_change_custom_data_alone(harness: Harness) -> None:
    sent = await harness.ok(SEND, message("keep"))
    await harness.ok(
        MODIFY,
        {"From_Account": "alice", "To_Account": "bob", "MsgKey": sent["MsgKey"], "CloudCustomData": "x"},
    )
    record = harness.backend.state.c2c_history("alice", "bob")[0]
    assert (body_text(record.body), record.cloud_custom_data) == ("keep", "x")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"MsgKey": "not-a-key"}, 90054),
        ({"MsgKey": "1_2_3"}, 20022),
        ({"To_Account": "alice"}, 20022),
        ({"MsgBody": None}, 90010),
        ({"MsgBody": "text"}, 90007),
        ({"MsgBody": text_msg("b" * 12289)}, 80002),
    ],
)
async def test_modify_c2c_msg_errors(harness: Harness, change: dict[str, Any], code: int) -> None:
    sent = await harness.ok(SEND, message("draft"))
    edit = {"From_Account": "alice", "To_Account": "bob", "MsgKey": sent["MsgKey"], "MsgBody": text_msg("x")}
    body = {name: value for name, value in (edit | change).items() if value is not None}
    assert (await harness.rest(MODIFY, body))["ErrorCode"] == code
    assert texts(harness) == ["draft"]
