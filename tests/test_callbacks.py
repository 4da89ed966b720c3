"""Callback parsing: the documented examples, round trips, dedupe keys and every 4xx refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from botkit.callbacks import (
    ACK_BODY,
    MAX_CALLBACK_BYTES,
    C2CMessage,
    CallbackCommand,
    CallbackQuery,
    GroupMessage,
    callback_url,
    dump_callback,
    is_robot,
    parse_callback,
    parse_query,
    refusal_body,
)
from botkit.elements import TextElem, UnknownElem
from botkit.errors import CallbackError

PAYLOADS = Path(__file__).parent / "payloads"
C2C = CallbackCommand.BOT_C2C_MESSAGE.value
GROUP = CallbackCommand.BOT_GROUP_MESSAGE.value
EXAMPLES = {C2C: "c2c_message.json", GROUP: "group_message.json"}


def _payload(command: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / EXAMPLES[command]).read_text(encoding="utf-8"))
    return data


def _bytes(data: object) -> bytes:
    return json.dumps(data).encode("utf-8")


def test_c2c_example_parses() -> None:
    message = parse_callback(C2C, (PAYLOADS / "c2c_message.json").read_bytes())

    assert isinstance(message, C2CMessage)
    assert message.from_account == "alice"
    assert message.to_account == "@RBT#helper"
    assert (message.msg_seq, message.msg_random, message.msg_time) == (2001, 918273645, 1700000100)
    assert message.msg_key == "2001_918273645_1700000100"
    assert message.send_msg_result == 0
    assert message.error_info == "send msg succeed"
    assert message.event_time == 1700000100123
    assert message.msg_id is None
    assert message.text == "What is a UserSig?"
    assert isinstance(message.msg_body[0], TextElem)


def test_group_example_parses() -> None:
    message = parse_callback(GROUP, (PAYLOADS / "group_message.json").read_bytes())

    assert isinstance(message, GroupMessage)
    assert message.group_id == "@TGS#2ABCDEFGH"
    assert message.type == "Public"
    assert message.from_account == "bob"
    assert message.operator_account == "bob"
    assert message.random == 55667788
    assert message.msg_seq == 42
    assert message.at_robots_account == ["@RBT#helper"]
    assert message.topic_id is None
    assert message.text == "@@RBT#helper summarise the thread"


@pytest.mark.parametrize("command", [C2C, GROUP])
def test_dump_round_trips_documented_example(command: str) -> None:
    original = _payload(command)

    assert dump_callback(parse_callback(command, _bytes(original))) == original


@pytest.mark.parametrize("command", [C2C, GROUP])
def test_unknown_fields_and_elements_survive_round_trip(command: str) -> None:
    original = _payload(command) | {
        "NewTopLevelField": "kept",
        "NewNested": {"A": [1, 2]},
        "MsgBody": [
            {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi", "NewTextFlag": 1}},
            {"MsgType": "TIMHologramElem", "MsgContent": {"Beam": "blue", "Power": 9}},
        ],
    }

    message = parse_callback(command, _bytes(original))

    assert isinstance(message.msg_body[1], UnknownElem)
    assert dump_callback(message) == original


def test_optional_c2c_fields_are_read_when_present() -> None:
    data = _payload(C2C) | {"MsgId": "144115233874815003-1700000100-918273645", "UnreadMsgNum": 3}

    message = parse_callback(C2C, _bytes(data))

    assert isinstance(message, C2CMessage)
    assert message.msg_id == "144115233874815003-1700000100-918273645"
    assert message.unread_msg_num == 3
    assert dump_callback(message) == data


def test_body_without_command_takes_it_from_query() -> None:
    data = _payload(GROUP)
    del data["CallbackCommand"]

    assert isinstance(parse_callback(GROUP, _bytes(data)), GroupMessage)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({}, "c2c:alice:@RBT#helper:2001_918273645_1700000100"),
        ({"MsgKey": "opaque-key"}, "c2c:alice:@RBT#helper:opaque-key"),
        ({"MsgKey": ""}, "c2c:alice:@RBT#helper:2001_918273645_1700000100"),
        ({"MsgKey": None}, "c2c:alice:@RBT#helper:2001_918273645_1700000100"),
        ({"From_Account": "a:b", "To_Account": "c"}, "c2c:a%3Ab:c:2001_918273645_1700000100"),
        ({"From_Account": "a", "To_Account": "b:c"}, "c2c:a:b%3Ac:2001_918273645_1700000100"),
        ({"From_Account": "100%"}, "c2c:100%25:@RBT#helper:2001_918273645_1700000100"),
    ],
)
def test_c2c_dedupe_key_is_sender_robot_and_msgkey(changes: dict[str, Any], key: str) -> None:
    data = _payload(C2C) | changes
    data = {name: value for name, value in data.items() if value is not None}

    assert parse_callback(C2C, _bytes(data)).dedupe_key == key


def test_the_same_msgkey_from_two_users_gives_two_keys() -> None:
    alice = parse_callback(C2C, _bytes(_payload(C2C)))
    bob = parse_callback(C2C, _bytes(_payload(C2C) | {"From_Account": "bob"}))
    other_robot = parse_callback(C2C, _bytes(_payload(C2C) | {"To_Account": "@RBT#other"}))

    assert len({alice.dedupe_key, bob.dedupe_key, other_robot.dedupe_key}) == 3


def test_c2c_fallback_dedupe_key_differs_per_sender() -> None:
    data = _payload(C2C)
    del data["MsgKey"]

    alice = parse_callback(C2C, _bytes(data))
    bob = parse_callback(C2C, _bytes(data | {"From_Account": "bob"}))

    assert alice.dedupe_key != bob.dedupe_key


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({}, "group:@TGS#2ABCDEFGH:42"),
        ({"MsgSeq": 43}, "group:@TGS#2ABCDEFGH:43"),
        ({"GroupId": "team-room"}, "group:team-room:42"),
        ({"Random": 1, "From_Account": "carol", "MsgTime": 1}, "group:@TGS#2ABCDEFGH:42"),
        ({"TopicId": "@TGS#_@TGS#c1@TOPIC#_t1"}, "group:@TGS#2ABCDEFGH:@TGS#_@TGS#c1@TOPIC#_t1:42"),
        # Only stored messages get a group sequence number: online-only and AVChatRoom add sender + Random.
        ({"OnlineOnlyFlag": 1}, "group:@TGS#2ABCDEFGH:42:bob:55667788"),
        ({"Type": "AVChatRoom", "Random": 7}, "group:@TGS#2ABCDEFGH:42:bob:7"),
    ],
)
def test_group_dedupe_key(changes: dict[str, Any], key: str) -> None:
    assert parse_callback(GROUP, _bytes(_payload(GROUP) | changes)).dedupe_key == key


def _c2c_without(name: str) -> bytes:
    data = _payload(C2C)
    del data[name]
    return _bytes(data)


def _c2c_with(**changes: object) -> bytes:
    return _bytes(_payload(C2C) | changes)


REFUSALS: list[tuple[str, str, bytes, int, str]] = [
    ("empty body", C2C, b"", 400, "empty"),
    ("not UTF-8", C2C, b'{"From_Account": "\xff\xfe"}', 400, "UTF-8"),
    ("bad JSON", C2C, b'{"From_Account": ', 400, "JSON"),
    ("JSON array", C2C, b"[]", 400, "object"),
    ("JSON string", C2C, b'"Bot.OnC2CMessage"', 400, "object"),
    ("JSON null", C2C, b"null", 400, "object"),
    ("missing From_Account", C2C, _c2c_without("From_Account"), 400, "From_Account"),
    ("missing MsgBody", C2C, _c2c_without("MsgBody"), 400, "MsgBody"),
    ("missing MsgSeq", C2C, _c2c_without("MsgSeq"), 400, "MsgSeq"),
    ("MsgSeq not a number", C2C, _c2c_with(MsgSeq="abc"), 400, "MsgSeq"),
    ("From_Account a number", C2C, _c2c_with(From_Account=123), 400, "From_Account"),
    ("MsgBody a string", C2C, _c2c_with(MsgBody="hi"), 400, "MsgBody"),
    ("text element without Text", C2C, _c2c_with(MsgBody=[{"MsgType": "TIMTextElem"}]), 400, "MsgBody"),
    ("element without MsgType", C2C, _c2c_with(MsgBody=[{"MsgContent": {}}]), 400, "MsgBody"),
    ("group body under C2C query", C2C, _bytes(_payload(GROUP)), 400, "differs"),
    ("C2C body under group query", GROUP, _bytes(_payload(C2C)), 400, "differs"),
    ("unknown command", "Group.CallbackAfterSendMsg", _bytes(_payload(C2C)), 400, "unsupported"),
    ("unknown command, empty body", "Bot.OnSomething", b"", 400, "unsupported"),
    ("command of wrong case", "bot.onc2cmessage", _bytes(_payload(C2C)), 400, "unsupported"),
    ("oversize", C2C, b" " * (MAX_CALLBACK_BYTES + 1), 413, "bytes"),
]


@pytest.mark.parametrize(
    ("command", "body", "status", "reason_part"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_parse_callback_refusals(command: str, body: bytes, status: int, reason_part: str) -> None:
    with pytest.raises(CallbackError) as caught:
        parse_callback(command, body)

    assert caught.value.status == status
    assert reason_part in caught.value.reason


def test_body_at_size_cap_is_accepted() -> None:
    body = _bytes(_payload(C2C))
    padded = body + b" " * (MAX_CALLBACK_BYTES - len(body))

    assert len(padded) == MAX_CALLBACK_BYTES
    assert isinstance(parse_callback(C2C, padded), C2CMessage)


FULL_QUERY = {
    "SdkAppid": "1400000000",
    "CallbackCommand": "Bot.OnC2CMessage",
    "contenttype": "json",
    "ClientIP": "203.0.113.7",
    "OptPlatform": "RESTAPI",
    "RequestTime": "1700000000",
    "Sign": "7538b0983b8e100fc6d802a83bd847a1b757ee983e909b099b628853871e2ab5",
}


def test_parse_query_reads_every_parameter() -> None:
    query = parse_query(FULL_QUERY)

    assert query.sdkappid == 1400000000
    assert query.callback_command == "Bot.OnC2CMessage"
    assert query.contenttype == "json"
    assert query.client_ip == "203.0.113.7"
    assert query.opt_platform == "RESTAPI"
    assert query.request_time == "1700000000"
    assert query.sign == FULL_QUERY["Sign"]


def test_parse_query_without_auth_params() -> None:
    query = parse_query({"SdkAppid": "1400000000", "CallbackCommand": "Bot.OnGroupMessage"})

    assert (query.sign, query.request_time) == (None, None)


def test_parse_query_keeps_unknown_params() -> None:
    query = parse_query(FULL_QUERY | {"NewParam": "x"})

    assert query.model_dump()["NewParam"] == "x"


@pytest.mark.parametrize(
    ("query", "reason_part"),
    [
        ({"CallbackCommand": "Bot.OnC2CMessage"}, "SdkAppid"),
        ({"SdkAppid": "", "CallbackCommand": "Bot.OnC2CMessage"}, "SdkAppid"),
        ({"SdkAppid": "abc", "CallbackCommand": "Bot.OnC2CMessage"}, "SdkAppid"),
        ({"SdkAppid": "14e8", "CallbackCommand": "Bot.OnC2CMessage"}, "SdkAppid"),
        ({"SdkAppid": "1400000000"}, "CallbackCommand"),
    ],
)
def test_parse_query_refusals(query: dict[str, str], reason_part: str) -> None:
    with pytest.raises(CallbackError) as caught:
        parse_query(query)

    assert caught.value.status == 400
    assert reason_part in caught.value.reason


def test_callback_url_writes_tencents_query_with_sign_and_request_time_last() -> None:
    query = CallbackQuery(
        sdkappid=1400000000, callback_command=C2C, client_ip="203.0.113.7", opt_platform="RESTAPI"
    )

    url = callback_url("https://bot.test/im", query.params(), token="example-token", request_time=1700000000)

    base, _, written = url.partition("?")
    assert base == "https://bot.test/im"
    assert dict(parse_qsl(written)) == FULL_QUERY
    assert [pair.partition("=")[0] for pair in written.split("&")][-2:] == ["Sign", "RequestTime"]


def test_a_callback_url_reads_back_as_the_query_it_was_built_from() -> None:
    query = CallbackQuery(sdkappid=1400000000, callback_command=GROUP)

    url = callback_url("/im?tenant=a", query.params())

    read = parse_query(dict(parse_qsl(urlsplit(url).query)))
    assert read.model_dump() == query.model_dump() | {"tenant": "a"}
    assert (read.sign, read.request_time) == (None, None)


def test_a_signed_callback_url_needs_its_request_time() -> None:
    with pytest.raises(ValueError, match="request_time"):
        callback_url("/im", {}, token="example-token")


def test_ack_body_is_the_documented_success() -> None:
    assert ACK_BODY == {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}


def test_a_refusal_says_why_with_error_code_1() -> None:
    assert refusal_body("wrong app") == {"ActionStatus": "FAIL", "ErrorCode": 1, "ErrorInfo": "wrong app"}


@pytest.mark.parametrize(
    ("user_id", "robot"),
    [("@RBT#001", True), ("@RBT#helper", True), ("alice", False), ("@TGS#2ABC", False), ("RBT#001", False)],
)
def test_is_robot(user_id: str, robot: bool) -> None:
    assert is_robot(user_id) is robot
