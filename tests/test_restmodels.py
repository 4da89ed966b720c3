"""The REST wire vocabulary: envelopes as Tencent writes them (https://trtc.io/document/34620)."""

from __future__ import annotations

from botkit.errorcodes import ErrorCode
from botkit.restmodels import Envelope


def test_an_ok_envelope_leads_with_the_three_fields_then_the_commands_own() -> None:
    answer = Envelope.ok({"MsgTime": 1700000000, "MsgKey": "1_2_3"}).model_dump()

    assert list(answer.items()) == [
        ("ActionStatus", "OK"),
        ("ErrorCode", 0),
        ("ErrorInfo", ""),
        ("MsgTime", 1700000000),
        ("MsgKey", "1_2_3"),
    ]


def test_an_error_envelope_carries_the_code_as_a_plain_number() -> None:
    answer = Envelope.error(ErrorCode.JSON_PARSE, "Fail to Parse json data of body, Please check it")

    assert answer.model_dump() == {
        "ActionStatus": "FAIL",
        "ErrorCode": 90001,
        "ErrorInfo": "Fail to Parse json data of body, Please check it",
    }
    assert type(answer.model_dump()["ErrorCode"]) is int


def test_an_envelope_reads_back_what_it_wrote() -> None:
    written = Envelope.ok({"GroupId": "@TGS#2ABC"}).model_dump()

    read = Envelope.model_validate(written)

    assert (read.error_code, read.model_extra) == (ErrorCode.OK, {"GroupId": "@TGS#2ABC"})
