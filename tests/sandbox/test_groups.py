"""Groups: create, members, send (MsgSeq, 5-minute de-dup, limits), history, modify."""

from __future__ import annotations

from typing import Any

import pytest

from botkit.elements import body_text, text_body
from botkit.restrequests import SendGroupRequest
from tests.support import ADMIN, ROBOT

from .conftest import Harness, text_msg

CREATE = "group_open_http_svc/create_group"
ADD = "group_open_http_svc/add_group_member"
SEND = "group_open_http_svc/send_group_msg"
HISTORY = "group_open_http_svc/group_msg_get_simple"
MODIFY = "openim/modify_group_msg"


async def make_group(harness: Harness, group_type: str = "Public", **extra: Any) -> str:
    members = [{"Member_Account": "alice"}, {"Member_Account": "bob"}, {"Member_Account": ROBOT}]
    body = {"Type": group_type, "Name": "team"} | (
        {} if group_type == "AVChatRoom" else {"MemberList": members}
    )
    answer = await harness.ok(CREATE, body | extra)
    group_id: str = answer["GroupId"]
    return group_id


def group_msg(group_id: str, text: str = "hello", random: int = 77, **fields: Any) -> dict[str, Any]:
    request = SendGroupRequest(
        group_id=group_id, from_account="alice", random=random, msg_body=text_body(text)
    )
    return request.to_wire() | fields


def stored_texts(harness: Harness, group_id: str) -> list[str]:
    return [body_text(record.body) for record in reversed(harness.backend.state.group_history(group_id))]


async def test_create_group_generates_a_tgs_id_with_members(harness: Harness) -> None:
    group_id = await make_group(harness, Owner_Account="alice")
    assert group_id.startswith("@TGS#")
    assert harness.backend.state.members(group_id) == ["alice", "bob", ROBOT]


async def test_create_group_keeps_a_custom_id(harness: Harness) -> None:
    assert await make_group(harness, GroupId="team-1") == "team-1"
    answer = await harness.rest(CREATE, {"Type": "Public", "Name": "again", "GroupId": "team-1"})
    assert answer["ErrorCode"] == 10021


async def test_community_groups_have_tgs_underscore_ids_custom_or_generated(harness: Harness) -> None:
    """create_group (https://trtc.io/document/34895): a Community's custom ID starts "@TGS#_"."""
    assert await make_group(harness, "Community", GroupId="@TGS#_fans") == "@TGS#_fans"
    assert (await make_group(harness, "Community")).startswith("@TGS#_")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"Name": "n"}, 10004),
        ({"Type": "Secret", "Name": "n"}, 10004),
        ({"Type": "Public"}, 10004),
        ({"Type": "Public", "Name": "n" * 31}, 10004),
        ({"Type": "Public", "Name": "n", "GroupId": "@TGS#mine"}, 10004),
        ({"Type": "Public", "Name": "n", "GroupId": "@TGS#_mine"}, 10004),
        ({"Type": "Community", "Name": "n", "GroupId": "fans"}, 10004),
        ({"Type": "Public", "Name": "n", "GroupId": "g" * 49}, 10004),
        ({"Type": "Public", "Name": "n", "Owner_Account": "ghost"}, 10004),
        ({"Type": "Public", "Name": "n", "MemberList": [{"Member_Account": "ghost"}]}, 10004),
        ({"Type": "Public", "Name": "n", "MemberList": "alice"}, 10004),
        ({"Type": "AVChatRoom", "Name": "n", "MemberList": [{"Member_Account": "alice"}]}, 10007),
    ],
)
async def test_create_group_errors(harness: Harness, body: dict[str, Any], code: int) -> None:
    assert (await harness.rest(CREATE, body))["ErrorCode"] == code
    assert harness.backend.state.groups() == []


async def test_add_group_member_results(harness: Harness) -> None:
    group_id = await make_group(harness)
    harness.backend.state.import_account("carol")
    body = {"GroupId": group_id, "MemberList": [{"Member_Account": m} for m in ("carol", "alice", "ghost")]}
    answer = await harness.ok(ADD, body)
    assert answer["MemberList"] == [
        {"Member_Account": "carol", "Result": 1},
        {"Member_Account": "alice", "Result": 2},
        {"Member_Account": "ghost", "Result": 0},
    ]


@pytest.mark.parametrize(("group", "code"), [("@TGS#2NOPE", 10010), (None, 10004), ("live", 10007)])
async def test_add_group_member_errors(harness: Harness, group: str | None, code: int) -> None:
    live = await make_group(harness, "AVChatRoom")
    body: dict[str, Any] = {"MemberList": [{"Member_Account": "alice"}]}
    if group is not None:
        body["GroupId"] = live if group == "live" else group
    assert (await harness.rest(ADD, body))["ErrorCode"] == code


async def test_send_group_msg_counts_msg_seq_from_one(harness: Harness) -> None:
    group_id = await make_group(harness)
    first = await harness.ok(SEND, group_msg(group_id, "one", 1))
    second = await harness.ok(SEND, group_msg(group_id, "two", 2))
    other = await harness.ok(SEND, group_msg(await make_group(harness), "elsewhere", 3))
    assert [first["MsgSeq"], second["MsgSeq"], other["MsgSeq"]] == [1, 2, 1]
    assert first["MsgTime"] == int(harness.clock())
    assert first["MsgDropReason"] == ""
    assert stored_texts(harness, group_id) == ["one", "two"]


async def test_admin_may_send_without_being_a_member(harness: Harness) -> None:
    group_id = await make_group(harness)
    body = {"GroupId": group_id, "Random": 5, "MsgBody": text_msg("notice")}
    await harness.ok(SEND, body)
    assert harness.backend.state.group_history(group_id)[0].from_account == ADMIN


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"GroupId": "@TGS#2NOPE"}, 10010),
        ({"GroupId": None}, 10004),
        ({"Random": None}, 10004),
        ({"Random": "7"}, 10004),
        ({"MsgBody": None}, 90007),
        ({"MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {}}]}, 90002),
        ({"MsgBody": text_msg("x" * 12289)}, 80002),
        ({"From_Account": "ghost"}, 10004),
        ({"From_Account": "carol"}, 10007),
        ({"GroupAtInfo": {"GroupAt_Account": "bob"}}, 10004),
        ({"GroupAtInfo": [{"GroupAtAllFlag": 0}]}, 10004),
        ({"MsgPriority": "Urgent"}, 10004),
    ],
)
async def test_send_group_msg_errors(harness: Harness, change: dict[str, Any], code: int) -> None:
    group_id = await make_group(harness)
    harness.backend.state.import_account("carol")
    body = {name: value for name, value in (group_msg(group_id) | change).items() if value is not None}
    assert (await harness.rest(SEND, body))["ErrorCode"] == code
    assert stored_texts(harness, group_id) == []


@pytest.mark.parametrize("text", ["hello", "something else"])
async def test_the_same_random_within_5_minutes_is_dropped_whatever_the_text(
    harness: Harness, text: str
) -> None:
    """send_group_msg (https://trtc.io/document/34959): "the same Random within five minutes is
    considered a repeat message"; the content is not compared."""
    group_id = await make_group(harness)
    first = await harness.ok(SEND, group_msg(group_id))
    harness.clock.advance(300)
    again = await harness.ok(SEND, group_msg(group_id, text))
    assert (again["MsgSeq"], again["MsgTime"]) == (first["MsgSeq"], first["MsgTime"])
    assert stored_texts(harness, group_id) == ["hello"]


@pytest.mark.parametrize(("change", "advance"), [({}, 301), ({"Random": 78}, 0)])
async def test_group_messages_that_differ_are_kept(
    harness: Harness, change: dict[str, Any], advance: int
) -> None:
    group_id = await make_group(harness)
    await harness.ok(SEND, group_msg(group_id))
    harness.clock.advance(advance)
    assert (await harness.ok(SEND, group_msg(group_id) | change))["MsgSeq"] == 2


async def test_avchatroom_accepts_non_members(harness: Harness) -> None:
    group_id = await make_group(harness, "AVChatRoom")
    assert (await harness.ok(SEND, group_msg(group_id)))["MsgSeq"] == 1


async def test_group_msg_get_simple_pages_from_the_newest(harness: Harness) -> None:
    group_id = await make_group(harness)
    for index in range(3):
        await harness.ok(SEND, group_msg(group_id, f"m{index + 1}", index))
    newest = await harness.ok(HISTORY, {"GroupId": group_id, "ReqMsgNumber": 2})
    assert (newest["GroupId"], newest["IsFinished"]) == (group_id, 0)
    assert [item["MsgSeq"] for item in newest["RspMsgList"]] == [3, 2]
    item = newest["RspMsgList"][0]
    assert item == {
        "From_Account": "alice",
        "IsPlaceMsg": 0,
        "MsgBody": text_msg("m3"),
        "MsgPriority": 2,
        "MsgRandom": 2,
        "MsgSeq": 3,
        "MsgTimeStamp": int(harness.clock()),
    }
    oldest = await harness.ok(HISTORY, {"GroupId": group_id, "ReqMsgNumber": 20, "ReqMsgSeq": 1})
    assert (oldest["IsFinished"], [item["MsgSeq"] for item in oldest["RspMsgList"]]) == (1, [1])


@pytest.mark.parametrize(("priority", "number"), [("High", 1), ("Normal", 2), ("Low", 3)])
async def test_group_msg_get_simple_answers_the_priority_as_a_number(
    harness: Harness, priority: str, number: int
) -> None:
    """Sent as a name, read back as an Integer, 1 high to 4 lowest (https://trtc.io/document/34971)."""
    group_id = await make_group(harness)
    await harness.ok(SEND, group_msg(group_id, MsgPriority=priority))
    answer = await harness.ok(HISTORY, {"GroupId": group_id, "ReqMsgNumber": 1})
    assert answer["RspMsgList"][0]["MsgPriority"] == number


async def test_req_msg_number_over_20_returns_20(harness: Harness) -> None:
    """ReqMsgNumber: "a maximum of 20 historical messages can be returned per request"."""
    group_id = await make_group(harness)
    for index in range(22):
        await harness.ok(SEND, group_msg(group_id, f"m{index}", index))
    answer = await harness.ok(HISTORY, {"GroupId": group_id, "ReqMsgNumber": 21})
    assert [item["MsgSeq"] for item in answer["RspMsgList"]] == list(range(22, 2, -1))
    assert answer["IsFinished"] == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"ReqMsgNumber": 0}, 10004),
        ({}, 10004),
        ({"ReqMsgNumber": 5, "GroupId": "@TGS#2NOPE"}, 10010),
        ({"ReqMsgNumber": 5, "GroupId": "live"}, 10007),
    ],
)
async def test_group_msg_get_simple_errors(harness: Harness, body: dict[str, Any], code: int) -> None:
    group_id = await make_group(harness)
    live = await make_group(harness, "AVChatRoom")
    request = {"GroupId": group_id} | body
    if request["GroupId"] == "live":
        request["GroupId"] = live
    assert (await harness.rest(HISTORY, request))["ErrorCode"] == code


async def test_modify_group_msg_overwrites_the_body(harness: Harness) -> None:
    group_id = await make_group(harness)
    sent = await harness.ok(SEND, group_msg(group_id, "draft"))
    answer = await harness.ok(
        MODIFY, {"GroupId": group_id, "MsgSeq": sent["MsgSeq"], "MsgBody": text_msg("done")}
    )
    assert answer == {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
    assert stored_texts(harness, group_id) == ["done"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"MsgSeq": 9}, 20022),
        ({"MsgSeq": None}, 10004),
        ({"MsgBody": None}, 10004),
        ({"GroupId": "@TGS#2NOPE"}, 10010),
        ({"MsgBody": text_msg("y" * 12289)}, 80002),
    ],
)
async def test_modify_group_msg_errors(harness: Harness, change: dict[str, Any], code: int) -> None:
    group_id = await make_group(harness)
    await harness.ok(SEND, group_msg(group_id, "draft"))
    edit = {"GroupId": group_id, "MsgSeq": 1, "MsgBody": text_msg("x")} | change
    body = {name: value for name, value in edit.items() if value is not None}
    assert (await harness.rest(MODIFY, body))["ErrorCode"] == code
    assert stored_texts(harness, group_id) == ["draft"]


async def test_modify_group_msg_refuses_avchatroom(harness: Harness) -> None:
    group_id = await make_group(harness, "AVChatRoom")
    await harness.ok(SEND, group_msg(group_id))
    edit = {"GroupId": group_id, "MsgSeq": 1, "MsgBody": text_msg("x")}
    assert (await harness.rest(MODIFY, edit))["ErrorCode"] == 10007
