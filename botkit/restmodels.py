"""REST command names, the response envelope and the typed results `ChatClient` returns.

https://trtc.io/document/34620 (envelope), command pages listed in protocol.md §12
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import Field

from botkit.elements import MsgBody, WireModel, dump_body
from botkit.errorcodes import ErrorCode

MAX_UINT32 = 2**32 - 1
"""The largest `MsgRandom`, `Random`, `MsgSeq` or URL `random`: Tencent's numbers are 32-bit unsigned."""
MAX_BODY_BYTES = 12 * 1024
"""The largest message body, as `body_size` measures it; a larger one fails with 80002 (protocol.md §7)."""
MAX_HISTORY_PAGE = 20
"""The most messages one `group_msg_get_simple` call returns; a larger `ReqMsgNumber` is capped."""


def body_size(body: MsgBody) -> int:
    """Tencent's size of a message body: the sum of the UTF-8 lengths of every content field value."""
    return sum(_size(element.get("MsgContent", {})) for element in dump_body(body))


def _size(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_size(item) for item in value.values())
    if isinstance(value, list):
        return sum(_size(item) for item in value)
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    return len(str(value))


class RestCommand(StrEnum):
    """The "service/command" paths under `/v4/` that botkit calls and the sandbox answers."""

    SEND_C2C = "openim/sendmsg"
    BATCH_SEND_C2C = "openim/batchsendmsg"
    MODIFY_C2C = "openim/modify_c2c_msg"
    MODIFY_GROUP = "openim/modify_group_msg"
    GET_ROAM_MSG = "openim/admin_getroammsg"
    SEND_GROUP = "group_open_http_svc/send_group_msg"
    CREATE_GROUP = "group_open_http_svc/create_group"
    ADD_GROUP_MEMBER = "group_open_http_svc/add_group_member"
    GROUP_MSG_GET_SIMPLE = "group_open_http_svc/group_msg_get_simple"
    CREATE_ROBOT = "openim_robot_http_svc/create_robot"
    DELETE_ROBOT = "openim_robot_http_svc/delete_robot"
    GET_ALL_ROBOTS = "openim_robot_http_svc/get_all_robots"
    ACCOUNT_IMPORT = "im_open_login_svc/account_import"
    MULTIACCOUNT_IMPORT = "im_open_login_svc/multiaccount_import"
    ACCOUNT_CHECK = "im_open_login_svc/account_check"
    SEND_ROBOT_STREAM = "openim_robot_http_svc/send_stream_msg"
    SEND_C2C_STREAM = "stream_msg/send_c2c_stream_msg"
    SEND_GROUP_STREAM = "stream_msg/send_group_stream_msg"


class Envelope(WireModel):
    """The fields every REST answer carries, before the command's own; `ErrorCode` 0 means success.

    Callbacks are answered with the same three fields. `to_wire()` gives the JSON object.
    """

    action_status: str = Field("", alias="ActionStatus")
    error_code: int = Field(alias="ErrorCode")
    error_info: str = Field("", alias="ErrorInfo")

    @classmethod
    def ok(cls, fields: Mapping[str, Any] | None = None) -> Envelope:
        """A success answer, followed by a command's own `fields` (Tencent's names)."""
        return cls.model_validate(
            {"ActionStatus": "OK", "ErrorCode": ErrorCode.OK, "ErrorInfo": "", **(fields or {})}
        )

    @classmethod
    def error(cls, code: int, info: str) -> Envelope:
        """A failed answer with Tencent's `ErrorCode` and its `ErrorInfo`."""
        return cls(action_status="FAIL", error_code=code, error_info=info)


class SendResult(WireModel):
    """`openim/sendmsg`: `MsgKey` is what a later modify or recall needs. https://trtc.io/document/34919"""

    msg_time: int = Field(alias="MsgTime")
    msg_key: str = Field(alias="MsgKey")
    msg_id: str | None = Field(None, alias="MsgId")


class GroupSendResult(WireModel):
    """`send_group_msg`: `MsgSeq` is what a later modify needs. https://trtc.io/document/34959"""

    msg_time: int = Field(alias="MsgTime")
    msg_seq: int = Field(alias="MsgSeq")
    msg_drop_reason: str = Field("", alias="MsgDropReason")


class RobotList(WireModel):
    """`get_all_robots`. https://www.tencentcloud.com/document/product/1047/55280"""

    robot_account: list[str] = Field(default_factory=list, alias="Robot_Account")


class ImportResult(WireModel):
    """`multiaccount_import`: the accounts that could not be imported."""

    fail_accounts: list[str] = Field(default_factory=list, alias="FailAccounts")


class AccountStatus(WireModel):
    """One `account_check` item; `account_status` is "Imported" or "NotImported"."""

    user_id: str = Field(alias="UserID")
    result_code: int = Field(0, alias="ResultCode")
    result_info: str = Field("", alias="ResultInfo")
    account_status: str = Field("", alias="AccountStatus")


class AccountCheckResult(WireModel):
    result_item: list[AccountStatus] = Field(default_factory=list, alias="ResultItem")


class CreateGroupResult(WireModel):
    group_id: str = Field(alias="GroupId")


class MemberResult(WireModel):
    """One `add_group_member` item: `result` 0 failed, 1 added, 2 already a member, 3 awaiting invitee."""

    member_account: str = Field(alias="Member_Account")
    result: int = Field(alias="Result")


class AddMembersResult(WireModel):
    member_list: list[MemberResult] = Field(default_factory=list, alias="MemberList")


class RoamMessage(WireModel):
    """One message of a 1:1 history; `msg_flag_bits` 8 means recalled."""

    from_account: str = Field(alias="From_Account")
    to_account: str = Field(alias="To_Account")
    msg_seq: int = Field(alias="MsgSeq")
    msg_random: int = Field(alias="MsgRandom")
    msg_time_stamp: int = Field(alias="MsgTimeStamp")
    msg_flag_bits: int = Field(0, alias="MsgFlagBits")
    is_peer_read: int = Field(0, alias="IsPeerRead")
    msg_key: str = Field("", alias="MsgKey")
    msg_body: MsgBody = Field(default_factory=list, alias="MsgBody")
    cloud_custom_data: str = Field("", alias="CloudCustomData")


class RoamMessages(WireModel):
    """`admin_getroammsg`: `complete` 1 when done, 0 when `last_msg_key` pages on."""

    complete: int = Field(alias="Complete")
    msg_cnt: int = Field(0, alias="MsgCnt")
    last_msg_time: int = Field(0, alias="LastMsgTime")
    last_msg_key: str = Field("", alias="LastMsgKey")
    msg_list: list[RoamMessage] = Field(default_factory=list, alias="MsgList")


class GroupHistoryMessage(WireModel):
    """One message of a group history; `is_place_msg` 1 marks a deleted or invisible one.

    `msg_priority` is a number here (1 high to 4 lowest), unlike the name `send_group_msg` takes.
    """

    from_account: str = Field(alias="From_Account")
    msg_seq: int = Field(alias="MsgSeq")
    msg_random: int = Field(0, alias="MsgRandom")
    msg_time_stamp: int = Field(0, alias="MsgTimeStamp")
    msg_body: MsgBody = Field(default_factory=list, alias="MsgBody")
    msg_priority: int | None = Field(None, alias="MsgPriority")
    is_place_msg: int = Field(0, alias="IsPlaceMsg")


class GroupHistory(WireModel):
    """`group_msg_get_simple`; `is_finished` is Tencent's IsFinished flag (0, 1 or 2)."""

    group_id: str = Field("", alias="GroupId")
    is_finished: int = Field(alias="IsFinished")
    rsp_msg_list: list[GroupHistoryMessage] = Field(default_factory=list, alias="RspMsgList")


class RobotStreamResult(WireModel):
    """`send_stream_msg`: the `MsgKey` every later call of the stream passes back.
    https://trtc.io/document/71131"""

    msg_key: str = Field("", alias="MsgKey")


class StreamResult(WireModel):
    """`send_c2c_stream_msg` / `send_group_stream_msg`: the `StreamMsgID` every later call carries in
    its `TIMStreamElem` [code: Tencent's TIMBot plugin]; the other fields are unconfirmed.
    https://cloud.tencent.com/document/product/269/128596, /128597"""

    stream_msg_id: str = Field("", alias="StreamMsgID")
    msg_key: str | None = Field(None, alias="MsgKey")
    msg_seq: int | None = Field(None, alias="MsgSeq")
    msg_time: int | None = Field(None, alias="MsgTime")
