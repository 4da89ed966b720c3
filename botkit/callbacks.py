"""Robot webhook callbacks: the query string and the `Bot.OnC2CMessage` / `Bot.OnGroupMessage` bodies.

https://trtc.io/document/68952 (C2C), https://trtc.io/document/68953 (group)
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from pydantic import Discriminator, Field, PrivateAttr, Tag, TypeAdapter, ValidationError
from pydantic_core import from_json

from botkit.config import ROBOT_PREFIX
from botkit.elements import MsgBody, WireModel, body_text, first_problem
from botkit.errors import CallbackError
from botkit.restmodels import Envelope
from botkit.signature import sign_callback

ACK_BODY: dict[str, Any] = Envelope.ok().to_wire()
"""The documented success answer to every callback."""
APP_ERROR = 1
"""The `ErrorCode` of a callback answer that refuses the callback (protocol.md §1.3)."""


def refusal_body(reason: str) -> dict[str, Any]:
    """The answer to a refused callback; Tencent reads only the HTTP status, a person the reason."""
    return Envelope.error(APP_ERROR, reason).to_wire()


class CallbackCommand(StrEnum):
    BOT_C2C_MESSAGE = "Bot.OnC2CMessage"
    BOT_GROUP_MESSAGE = "Bot.OnGroupMessage"


class CallbackQuery(WireModel):
    """The query string Tencent puts on every callback URL; auth params only when a token is set."""

    sdkappid: int = Field(alias="SdkAppid")
    callback_command: str = Field(alias="CallbackCommand")
    contenttype: str = Field("json", alias="contenttype")
    client_ip: str | None = Field(None, alias="ClientIP")
    opt_platform: str | None = Field(None, alias="OptPlatform")
    sign: str | None = Field(None, alias="Sign")
    request_time: str | None = Field(None, alias="RequestTime")

    def params(self) -> dict[str, str]:
        """The parameters under Tencent's names and casing (protocol.md §1.1), unset ones left out."""
        return {name: str(value) for name, value in self.model_dump(exclude_none=True).items()}


def callback_url(
    base: str, params: Mapping[str, str], *, token: str | None = None, request_time: int | None = None
) -> str:
    """`base` (a webhook URL or path) with the callback query string `params`.

    With a `token`, `Sign` and `RequestTime` (`request_time`, Unix seconds) are appended last, as
    Tencent does when callback authentication is on (protocol.md §1.2).
    """
    query = dict(params)
    if token is not None:
        if request_time is None:
            raise ValueError("a signed callback URL needs its request_time")
        now = str(request_time)
        query |= {"Sign": sign_callback(token, now), "RequestTime": now}
    separator = "&" if "?" in base else "?"
    return base + separator + urlencode(query)


class RobotCallback(WireModel):
    """What the two robot callbacks share: the form the intake journal stores, computed once."""

    _journal_payload: str | None = PrivateAttr(default=None)


class C2CMessage(RobotCallback):
    """`Bot.OnC2CMessage`: a user sent a one-to-one message to a robot."""

    callback_command: Literal["Bot.OnC2CMessage"] = Field("Bot.OnC2CMessage", alias="CallbackCommand")
    from_account: str = Field(alias="From_Account")
    to_account: str = Field(alias="To_Account")
    msg_seq: int = Field(alias="MsgSeq")
    msg_random: int = Field(alias="MsgRandom")
    msg_time: int = Field(alias="MsgTime")
    msg_key: str = Field("", alias="MsgKey")
    msg_id: str | None = Field(None, alias="MsgId")
    online_only_flag: int = Field(0, alias="OnlineOnlyFlag")
    send_msg_result: int = Field(0, alias="SendMsgResult")
    error_info: str = Field("", alias="ErrorInfo")
    unread_msg_num: int | None = Field(None, alias="UnreadMsgNum")
    msg_body: MsgBody = Field(alias="MsgBody")
    cloud_custom_data: str = Field("", alias="CloudCustomData")
    event_time: int = Field(0, alias="EventTime")

    @property
    def dedupe_key(self) -> str:
        """Sender, robot and MsgKey: a MsgKey (`{MsgSeq}_{MsgRandom}_{MsgTime}`) is unique only
        within one conversation, so two users can send the same one in the same second."""
        msg_key = self.msg_key or f"{self.msg_seq}_{self.msg_random}_{self.msg_time}"
        return _key("c2c", self.from_account, self.to_account, msg_key)

    @property
    def lane(self) -> str:
        """Messages in one lane are answered one at a time, in order: here, one user and one robot."""
        return f"c2c:{self.to_account}:{self.from_account}"

    @property
    def text(self) -> str:
        return body_text(self.msg_body)


class GroupMessage(RobotCallback):
    """`Bot.OnGroupMessage`: a group message @-mentioned one or more robots."""

    callback_command: Literal["Bot.OnGroupMessage"] = Field("Bot.OnGroupMessage", alias="CallbackCommand")
    group_id: str = Field(alias="GroupId")
    type: str = Field("", alias="Type")
    from_account: str = Field(alias="From_Account")
    operator_account: str = Field("", alias="Operator_Account")
    random: int = Field(0, alias="Random")
    msg_seq: int = Field(alias="MsgSeq")
    msg_time: int = Field(0, alias="MsgTime")
    online_only_flag: int = Field(0, alias="OnlineOnlyFlag")
    msg_body: MsgBody = Field(alias="MsgBody")
    at_robots_account: list[str] = Field(default_factory=list, alias="AtRobots_Account")
    cloud_custom_data: str = Field("", alias="CloudCustomData")
    topic_id: str | None = Field(None, alias="TopicId")
    event_time: int = Field(0, alias="EventTime")

    @property
    def dedupe_key(self) -> str:
        """GroupId and MsgSeq identify a group message (https://trtc.io/document/33526), but
        only stored messages get a sequence number: for online-only messages and AVChatRoom
        groups the sender and Random are added. Community topics number their own messages."""
        scope = [self.group_id, self.topic_id] if self.topic_id else [self.group_id]
        if self.online_only_flag == 1 or self.type == "AVChatRoom":
            return _key("group", *scope, str(self.msg_seq), self.from_account, str(self.random))
        return _key("group", *scope, str(self.msg_seq))

    @property
    def lane(self) -> str:
        """A whole group is one lane, so its messages are answered in the order they were sent."""
        return f"group:{self.group_id}"

    @property
    def text(self) -> str:
        return body_text(self.msg_body)


Callback = Annotated[
    Annotated[C2CMessage, Tag(CallbackCommand.BOT_C2C_MESSAGE.value)]
    | Annotated[GroupMessage, Tag(CallbackCommand.BOT_GROUP_MESSAGE.value)],
    Discriminator("callback_command"),
]
callback_adapter: TypeAdapter[C2CMessage | GroupMessage] = TypeAdapter(Callback)

MAX_CALLBACK_BYTES = 1024 * 1024


def _key(kind: str, *parts: str) -> str:
    """`kind:part:part…` with each part's `:` and `%` quoted, so different fields never run together."""
    return ":".join([kind, *(part.replace("%", "%25").replace(":", "%3A") for part in parts)])


def parse_query(query: Mapping[str, str]) -> CallbackQuery:
    """Validate the callback query string; a missing or non-numeric `SdkAppid` is a 400."""
    try:
        return CallbackQuery.model_validate(dict(query))
    except ValidationError as exc:
        raise CallbackError(400, "bad query string: " + first_problem(exc)) from None


def parse_callback(command: str, body: bytes) -> C2CMessage | GroupMessage:
    """Parse a callback body into its model, or raise `CallbackError` with a 4xx and the reason.

    A body that names its own CallbackCommand is validated as JSON by the very call the worker
    reads the journal with, and journalled as received, so it reads back the same by
    construction. Anything else takes the careful path, which says what is wrong, or fills in a
    missing CallbackCommand and checks that the stored form reads back.
    """
    if command not in CallbackCommand.__members__.values():
        raise CallbackError(400, f"unsupported CallbackCommand {command!r}")
    if not body:
        raise CallbackError(400, "empty body")
    if len(body) > MAX_CALLBACK_BYTES:
        raise CallbackError(413, f"body over {MAX_CALLBACK_BYTES} bytes")
    try:
        message = callback_adapter.validate_json(body)
        stored = body.decode()
    except ValueError:  # a ValidationError, or not UTF-8
        return _parse_carefully(command, body)
    if message.callback_command != command:
        return _parse_carefully(command, body)
    message._journal_payload = stored
    return message


def _parse_carefully(command: str, body: bytes) -> C2CMessage | GroupMessage:
    try:
        # pydantic's own parser, the one the worker re-reads the journal with: it refuses what it
        # cannot read back (nesting over 200, integers over 4,300 digits, lone surrogates).
        data = from_json(body)
    except ValueError as exc:
        raise CallbackError(400, f"body is not UTF-8 JSON botkit can read: {exc}") from None
    if not isinstance(data, dict):
        raise CallbackError(400, "body is not a JSON object")
    data.setdefault("CallbackCommand", command)
    if data["CallbackCommand"] != command:
        raise CallbackError(400, "CallbackCommand in the body differs from the query string")
    try:
        message = callback_adapter.validate_python(data)
    except ValidationError as exc:
        raise CallbackError(400, f"invalid {command} body: " + first_problem(exc)) from None
    check_journal_payload(message)
    return message


def journal_payload(message: C2CMessage | GroupMessage) -> str:
    """The callback as the intake journal stores it: as received, or a dump that `parse_callback`
    has checked reads back the same."""
    if message._journal_payload is None:
        message._journal_payload = message.model_dump_json(by_alias=True, exclude_none=True)
    return message._journal_payload


def check_journal_payload(message: C2CMessage | GroupMessage) -> None:
    """Refuse, before the ack, a message whose stored form the worker could not read back the same."""
    try:
        reread = callback_adapter.validate_json(journal_payload(message))
    except ValueError as exc:  # a ValidationError too
        raise CallbackError(400, f"body cannot be stored and read back: {exc}") from None
    if (reread.dedupe_key, reread.lane, reread.text) != (message.dedupe_key, message.lane, message.text):
        raise CallbackError(400, "body does not read back the same once stored")


def dump_callback(callback: C2CMessage | GroupMessage) -> dict[str, Any]:
    """A callback as the JSON object Tencent sends."""
    return callback.model_dump(mode="json", by_alias=True, exclude_none=True)


def is_robot(user_id: str) -> bool:
    return user_id.startswith(ROBOT_PREFIX)
