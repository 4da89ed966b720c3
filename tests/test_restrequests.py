"""REST request bodies: what `to_wire()` writes, checked against Tencent's documented examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from botkit.elements import text_body
from botkit.restrequests import GroupAt, SendC2CRequest, SendGroupRequest

PAYLOADS = Path(__file__).parent / "payloads"


def test_a_sendmsg_request_writes_the_documented_example() -> None:
    documented = json.loads((PAYLOADS / "sendmsg_request.json").read_text(encoding="utf-8"))

    request = SendC2CRequest(
        sync_other_machine=2,
        from_account="@RBT#helper",
        to_account="alice",
        msg_seq=7001,
        msg_random=3141592653,
        msg_lifetime=604800,
        msg_body=text_body("A UserSig is a signed login ticket."),
    )

    assert request.to_wire() == documented
    assert SendC2CRequest.model_validate(documented).to_wire() == documented


def test_optional_fields_not_given_are_left_out() -> None:
    request = SendC2CRequest(to_account="alice", msg_random=1, msg_body=text_body("hi"))

    assert list(request.to_wire()) == ["To_Account", "MsgRandom", "MsgBody"]


def test_group_at_info_names_members_and_everyone_as_tencent_writes_them() -> None:
    request = SendGroupRequest(
        group_id="@TGS#2ABC",
        random=7,
        msg_body=text_body("@bob hi all"),
        group_at_info=[GroupAt.everyone(), GroupAt.member("bob")],
    )

    assert request.to_wire()["GroupAtInfo"] == [
        {"GroupAtAllFlag": 1},
        {"GroupAtAllFlag": 0, "GroupAt_Account": "bob"},
    ]


@pytest.mark.parametrize(
    "item",
    [
        {"GroupAtAllFlag": True},
        {"GroupAtAllFlag": "1"},
        {"GroupAtAllFlag": 1.0},
        {"GroupAtAllFlag": 2},
        {"GroupAt_Account": 5},
    ],
)
def test_group_at_reads_client_items_strictly(item: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        GroupAt.model_validate(item)
