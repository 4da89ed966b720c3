"""A client written from Tencent's REST pages alone decodes what the sandbox answers.

The models below are not botkit's: each is typed from the response table of the page in its
docstring, strict (no "2" for 2, no string for an Integer) and closed (`extra="forbid"`), so a field
the sandbox adds, drops or types differently from the docs fails here. Every call goes over HTTP
with the URL checks on, as a client outside botkit would make it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import pytest
from pydantic import BaseModel, ConfigDict, Field

from sandbox.chat import Chat
from sandbox.harness import InProcessSandbox
from tests.support import ROBOT

from .conftest import Harness, text_msg


class Doc(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Envelope(Doc):
    """The common answer fields: https://trtc.io/document/34620."""

    ActionStatus: Literal["OK", "FAIL"]
    ErrorCode: int
    ErrorInfo: str


class TextContent(Doc):
    Text: str


class TextElem(Doc):
    """https://trtc.io/document/74355 (message formats)."""

    MsgType: Literal["TIMTextElem"]
    MsgContent: TextContent


class CustomContent(Doc):
    Data: str
    Desc: str | None = None
    Ext: str | None = None
    Sound: str | None = None


class CustomElem(Doc):
    MsgType: Literal["TIMCustomElem"]
    MsgContent: CustomContent


Element = Annotated[TextElem | CustomElem, Field(discriminator="MsgType")]


class SendMsg(Envelope):
    """openim/sendmsg: https://trtc.io/document/34919."""

    MsgTime: int
    MsgKey: str
    MsgId: str | None = None


class BatchError(Doc):
    To_Account: str
    ErrorCode: int


class BatchSendMsg(Envelope):
    """openim/batchsendmsg: https://trtc.io/document/34920."""

    MsgKey: str
    ErrorList: list[BatchError] | None = None


class SendGroupMsg(Envelope):
    """group_open_http_svc/send_group_msg: https://trtc.io/document/34959."""

    MsgTime: int
    MsgSeq: int
    MsgDropReason: str | None = None


class RoamItem(Doc):
    From_Account: str
    To_Account: str
    MsgSeq: int
    MsgRandom: int
    MsgTimeStamp: int
    MsgFlagBits: int
    IsPeerRead: Literal[0, 1]
    MsgKey: str
    MsgBody: list[Element]
    CloudCustomData: str


class AdminGetRoamMsg(Envelope):
    """openim/admin_getroammsg: https://trtc.io/document/35478."""

    Complete: Literal[0, 1]
    MsgCnt: int
    LastMsgTime: int
    LastMsgKey: str
    MsgList: list[RoamItem]


class GroupItem(Doc):
    From_Account: str
    IsPlaceMsg: Literal[0, 1]
    MsgBody: list[Element]
    MsgPriority: Literal[1, 2, 3, 4]
    MsgRandom: int
    MsgSeq: int
    MsgTimeStamp: int


class GroupMsgGetSimple(Envelope):
    """group_open_http_svc/group_msg_get_simple: https://trtc.io/document/34971."""

    GroupId: str
    IsFinished: Literal[0, 1, 2]
    RspMsgList: list[GroupItem]


class GetAllRobots(Envelope):
    """openim_robot_http_svc/get_all_robots: https://trtc.io/document/55280."""

    Robot_Account: list[str]


class CheckResult(Doc):
    UserID: str
    ResultCode: int
    ResultInfo: str
    AccountStatus: Literal["Imported", "NotImported"]


class AccountCheck(Envelope):
    """im_open_login_svc/account_check: protocol.md §5.6 (Tencent's "Querying Account" page)."""

    ResultItem: list[CheckResult]


class MultiAccountImport(Envelope):
    """im_open_login_svc/multiaccount_import: protocol.md §5.6."""

    FailAccounts: list[str]


class CreateGroup(Envelope):
    """group_open_http_svc/create_group: https://trtc.io/document/34895."""

    GroupId: str


class MemberResult(Doc):
    Member_Account: str
    Result: Literal[0, 1, 2, 3]


class AddGroupMember(Envelope):
    """group_open_http_svc/add_group_member: protocol.md §5.7."""

    MemberList: list[MemberResult]


Answer = TypeVar("Answer", bound=Envelope)


async def call(harness: Harness, command: str, body: dict[str, Any], model: type[Answer]) -> Answer:
    """One REST call over HTTP, its JSON decoded by `model` alone; it must have succeeded."""
    response = await harness.post(command, body)
    assert response.status_code == 200
    answer = model.model_validate_json(response.content)
    assert (answer.ActionStatus, answer.ErrorCode, answer.ErrorInfo) == ("OK", 0, "")
    return answer


async def test_every_command_decodes_with_the_documented_types(harness: Harness) -> None:
    await call(harness, "im_open_login_svc/account_import", {"UserID": "carol"}, Envelope)
    imported = await call(
        harness, "im_open_login_svc/multiaccount_import", {"Accounts": ["dave"]}, MultiAccountImport
    )
    assert imported.FailAccounts == []
    check = {"CheckItem": [{"UserID": "carol"}, {"UserID": "ghost"}]}
    checked = await call(harness, "im_open_login_svc/account_check", check, AccountCheck)
    assert [item.AccountStatus for item in checked.ResultItem] == ["Imported", "NotImported"]
    await call(harness, "openim_robot_http_svc/create_robot", {"UserID": "@RBT#002"}, Envelope)
    robots = await call(harness, "openim_robot_http_svc/get_all_robots", {}, GetAllRobots)
    assert set(robots.Robot_Account) == {ROBOT, "@RBT#002"}

    sent = await call(
        harness,
        "openim/sendmsg",
        {"From_Account": "alice", "To_Account": ROBOT, "MsgRandom": 1, "MsgBody": text_msg("hi")},
        SendMsg,
    )
    batch = {"To_Account": ["bob", "ghost"], "MsgRandom": 2, "MsgBody": text_msg("all")}
    batched = await call(harness, "openim/batchsendmsg", batch, BatchSendMsg)
    assert batched.ErrorList == [BatchError(To_Account="ghost", ErrorCode=70107)]
    roam = {"Operator_Account": "alice", "Peer_Account": ROBOT, "MaxCnt": 10, "MinTime": 0}
    roam["MaxTime"] = 2**32 - 1
    history = await call(harness, "openim/admin_getroammsg", roam, AdminGetRoamMsg)
    assert [item.MsgKey for item in history.MsgList] == [sent.MsgKey]

    members = [{"Member_Account": "alice"}, {"Member_Account": ROBOT}]
    group = {"Type": "Public", "Name": "team", "Owner_Account": "alice", "MemberList": members}
    created = await call(harness, "group_open_http_svc/create_group", group, CreateGroup)
    added = await call(
        harness,
        "group_open_http_svc/add_group_member",
        {"GroupId": created.GroupId, "MemberList": [{"Member_Account": "bob"}, {"Member_Account": "alice"}]},
        AddGroupMember,
    )
    assert [item.Result for item in added.MemberList] == [1, 2]
    group_msg = {"GroupId": created.GroupId, "Random": 3, "MsgBody": text_msg("hello"), "MsgPriority": "High"}
    posted = await call(harness, "group_open_http_svc/send_group_msg", group_msg, SendGroupMsg)
    simple = {"GroupId": created.GroupId, "ReqMsgNumber": 20}
    pulled = await call(harness, "group_open_http_svc/group_msg_get_simple", simple, GroupMsgGetSimple)
    assert [(item.MsgSeq, item.MsgPriority) for item in pulled.RspMsgList] == [(posted.MsgSeq, 1)]
    await harness.backend.dispatcher.drain()


@pytest.mark.parametrize(
    ("url", "code"),
    [({"sdkappid": None}, 60012), ({"sdkappid": "1"}, 70020), ({"identifier": "alice"}, 70013)],
)
async def test_failures_decode_as_the_bare_envelope(
    harness: Harness, url: dict[str, str | None], code: int
) -> None:
    """A FAIL answer carries the common fields only, with a code from https://trtc.io/document/34348."""
    params = harness.url_params(**url)
    response = await harness.client.post("/v4/openim_robot_http_svc/get_all_robots", params=params, json={})
    answer = Envelope.model_validate_json(response.content)
    assert (answer.ActionStatus, answer.ErrorCode) == ("FAIL", code)
    assert answer.ErrorInfo


async def test_the_parts_of_one_group_answer_use_different_randoms(
    sandbox: InProcessSandbox, chat: Chat
) -> None:
    """The same Random within five minutes is one message to Tencent, so botkit's `reply_random`
    must give each part its own: a long answer lands in full."""
    # Under the 12 KB a message may hold and the 4,000 characters the model is shown; its echo is
    # over the 11 KB a part holds.
    question = "字" * 3_900
    await chat.send_group(question)
    await sandbox.settle()
    replies = [r for r in sandbox.state.group_history(sandbox.group) if r.from_account == sandbox.robot]
    assert len(replies) >= 2
    assert len({reply.random for reply in replies}) == len(replies)
