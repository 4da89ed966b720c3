"""The request bodies of the REST commands botkit sends, under Tencent's field names.

`ChatClient` builds each body from one of these and sends `to_wire()`, which leaves out the optional
fields not given; the sandbox, the tests and the bench build theirs the same way. Command pages are
listed in protocol.md §12; `send_group_msg` is https://trtc.io/document/34959.
"""

from __future__ import annotations

from pydantic import Field

from botkit.elements import MsgBody, WireModel


class GroupAt(WireModel):
    """One `GroupAtInfo` item: a member @-mentioned by UserID, or everyone (`GroupAtAllFlag` 1).

    Strict, since the sandbox reads clients' items through it: 1.0, "1" or true are not numbers there.
    """

    group_at_all_flag: int = Field(0, alias="GroupAtAllFlag", strict=True, ge=0, le=1)
    group_at_account: str | None = Field(None, alias="GroupAt_Account", strict=True)

    @classmethod
    def member(cls, account: str) -> GroupAt:
        return cls(group_at_all_flag=0, group_at_account=account)

    @classmethod
    def everyone(cls) -> GroupAt:
        return cls(group_at_all_flag=1)


class Member(WireModel):
    """One `MemberList` item of `create_group` and `add_group_member`."""

    member_account: str = Field(alias="Member_Account")


class CheckItem(WireModel):
    """One `CheckItem` of `account_check`."""

    user_id: str = Field(alias="UserID")


class SendC2CRequest(WireModel):
    """`openim/sendmsg`; `SyncOtherMachine` 1 (Tencent's default) keeps it in the sender's history, 2 not."""

    sync_other_machine: int | None = Field(None, alias="SyncOtherMachine")
    from_account: str | None = Field(None, alias="From_Account")
    to_account: str = Field(alias="To_Account")
    msg_seq: int | None = Field(None, alias="MsgSeq")
    msg_random: int = Field(alias="MsgRandom")
    msg_time_stamp: int | None = Field(None, alias="MsgTimeStamp")
    msg_lifetime: int | None = Field(None, alias="MsgLifeTime")
    msg_body: MsgBody = Field(alias="MsgBody")
    cloud_custom_data: str | None = Field(None, alias="CloudCustomData")
    online_only_flag: int | None = Field(None, alias="OnlineOnlyFlag")
    """1: delivered to online clients only, never stored (a "typing…" signal)."""
    send_msg_control: list[str] | None = Field(None, alias="SendMsgControl")


class SendGroupRequest(WireModel):
    """`group_open_http_svc/send_group_msg`; `GroupAtInfo` follows the order of the @s in the text."""

    group_id: str = Field(alias="GroupId")
    from_account: str | None = Field(None, alias="From_Account")
    random: int = Field(alias="Random")
    msg_body: MsgBody = Field(alias="MsgBody")
    group_at_info: list[GroupAt] | None = Field(None, alias="GroupAtInfo")
    topic_id: str | None = Field(None, alias="TopicId")


class ModifyC2CRequest(WireModel):
    """`openim/modify_c2c_msg`: the message is found by its `MsgKey`."""

    from_account: str = Field(alias="From_Account")
    to_account: str = Field(alias="To_Account")
    msg_key: str = Field(alias="MsgKey")
    msg_body: MsgBody | None = Field(None, alias="MsgBody")
    cloud_custom_data: str | None = Field(None, alias="CloudCustomData")


class ModifyGroupRequest(WireModel):
    """`openim/modify_group_msg`: the message is found by its `MsgSeq`."""

    group_id: str = Field(alias="GroupId")
    msg_seq: int = Field(alias="MsgSeq")
    msg_body: MsgBody | None = Field(None, alias="MsgBody")
    topic_id: str | None = Field(None, alias="TopicId")


class CreateRobotRequest(WireModel):
    """`openim_robot_http_svc/create_robot`."""

    user_id: str = Field(alias="UserID")
    nick: str | None = Field(None, alias="Nick")
    face_url: str | None = Field(None, alias="FaceUrl")
    self_signature: str | None = Field(None, alias="SelfSignature")


class DeleteRobotRequest(WireModel):
    robot_account: str = Field(alias="Robot_Account")


class AccountImportRequest(WireModel):
    """`im_open_login_svc/account_import`."""

    user_id: str = Field(alias="UserID")
    nick: str | None = Field(None, alias="Nick")
    face_url: str | None = Field(None, alias="FaceUrl")


class MultiAccountImportRequest(WireModel):
    accounts: list[str] = Field(alias="Accounts")


class AccountCheckRequest(WireModel):
    check_item: list[CheckItem] = Field(alias="CheckItem")


class CreateGroupRequest(WireModel):
    """`group_open_http_svc/create_group`: `GroupId` generated (`@TGS#…`) when not given."""

    type: str = Field(alias="Type")
    name: str = Field(alias="Name")
    group_id: str | None = Field(None, alias="GroupId")
    owner_account: str | None = Field(None, alias="Owner_Account")
    member_list: list[Member] | None = Field(None, alias="MemberList")


class AddGroupMemberRequest(WireModel):
    group_id: str = Field(alias="GroupId")
    silence: int = Field(1, alias="Silence")
    member_list: list[Member] = Field(alias="MemberList")


class GetRoamMsgRequest(WireModel):
    """`openim/admin_getroammsg`: page on with `LastMsgKey` from the previous answer."""

    operator_account: str = Field(alias="Operator_Account")
    peer_account: str = Field(alias="Peer_Account")
    max_cnt: int = Field(alias="MaxCnt")
    min_time: int = Field(alias="MinTime")
    max_time: int = Field(alias="MaxTime")
    last_msg_key: str | None = Field(None, alias="LastMsgKey")


class GroupMsgGetSimpleRequest(WireModel):
    """`group_open_http_svc/group_msg_get_simple`: at most 20 messages a call."""

    group_id: str = Field(alias="GroupId")
    req_msg_seq: int | None = Field(None, alias="ReqMsgSeq")
    req_msg_number: int = Field(alias="ReqMsgNumber")


class RobotStreamRequest(WireModel):
    """`openim_robot_http_svc/send_stream_msg`: one chunk of a robot's 1:1 stream; the first call has
    no `MsgKey`, the last has `Finish` 1."""

    from_account: str = Field(alias="From_Account")
    to_account: str = Field(alias="To_Account")
    chunk: str = Field(alias="Chunk")
    msg_key: str | None = Field(None, alias="MsgKey")
    finish: int | None = Field(None, alias="Finish")


class SendGroupStreamRequest(SendGroupRequest):
    """`stream_msg/send_group_stream_msg`: a `send_group_msg` body whose random is `MsgRandom`, as
    Tencent's sample names it (protocol.md §6)."""

    random: int = Field(alias="MsgRandom")
