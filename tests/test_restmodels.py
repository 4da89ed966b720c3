"""REST wire vocabulary: envelopes as Tencent writes them (https://trtc.io/document/34620), the body limit."""

from __future__ import annotations

from botkit.elements import msg_body_adapter, text_body
from botkit.errorcodes import ErrorCode
from botkit.replies import MAX_PART_BYTES
from botkit.restmodels import MAX_BODY_BYTES, Envelope, body_size


def test_an_ok_envelope_leads_with_the_three_fields_then_the_commands_own() -> None:
    answer = Envelope.ok({"MsgTime": 1700000000, "MsgKey": "1_2_3"}).to_wire()

    assert list(answer.items()) == [
        ("ActionStatus", "OK"),
        ("ErrorCode", 0),
        ("ErrorInfo", ""),
        ("MsgTime", 1700000000),
        ("MsgKey", "1_2_3"),
    ]


def test_an_error_envelope_carries_the_code_as_a_plain_number() -> None:
    answer = Envelope.error(ErrorCode.JSON_PARSE, "Fail to Parse json data of body, Please check it")

    assert answer.to_wire() == {
        "ActionStatus": "FAIL",
        "ErrorCode": 90001,
        "ErrorInfo": "Fail to Parse json data of body, Please check it",
    }
    assert type(answer.to_wire()["ErrorCode"]) is int


def test_an_envelope_reads_back_what_it_wrote() -> None:
    written = Envelope.ok({"GroupId": "@TGS#2ABC"}).to_wire()

    read = Envelope.model_validate(written)

    assert (read.error_code, read.model_extra) == (ErrorCode.OK, {"GroupId": "@TGS#2ABC"})


def test_body_size_counts_the_utf8_bytes_of_every_content_value() -> None:
    body = msg_body_adapter.validate_python(
        [
            {"MsgType": "TIMTextElem", "MsgContent": {"Text": "你好"}},
            {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 12, "Data": "ab"}},
        ]
    )

    assert body_size(body) == 6 + 2 + 2


def test_replies_are_split_below_the_body_limit() -> None:
    assert body_size(text_body("x" * MAX_PART_BYTES)) < MAX_BODY_BYTES
