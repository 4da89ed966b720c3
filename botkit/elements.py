"""Message elements (`MsgBody` items), typed by `MsgType`; unknown types and fields are kept.
Also the "@<UserID>" mention inside group text, written and read here only.

https://trtc.io/document/74355
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)


class WireModel(BaseModel):
    """Base of every wire model: Tencent's field names on the wire, unknown fields kept."""

    model_config = ConfigDict(
        extra="allow",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        # NaN and Infinity (1e400 reads as Infinity) are written back as such, not as null, so a
        # stored callback reads back as the one that was validated.
        ser_json_inf_nan="constants",
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON object Tencent's side sends or reads: its field names, unset optional fields left out."""
        return self.model_dump(mode="json", exclude_none=True)


def first_problem(exc: ValidationError) -> str:
    """The first validation error as `field.path: message`, for a one-line reason."""
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{field}: {error['msg']}"


class TextContent(WireModel):
    text: str = Field(alias="Text")


class CustomContent(WireModel):
    data: str = Field("", alias="Data")
    desc: str | None = Field(None, alias="Desc")
    ext: str | None = Field(None, alias="Ext")
    sound: str | None = Field(None, alias="Sound")


class FaceContent(WireModel):
    index: int = Field(alias="Index")
    data: str = Field("", alias="Data")


class LocationContent(WireModel):
    desc: str = Field("", alias="Desc")
    latitude: float = Field(alias="Latitude")
    longitude: float = Field(alias="Longitude")


class ImageInfo(WireModel):
    type: int = Field(alias="Type")
    size: int = Field(0, alias="Size")
    width: int = Field(0, alias="Width")
    height: int = Field(0, alias="Height")
    url: str = Field(alias="URL")


class ImageContent(WireModel):
    uuid: str = Field("", alias="UUID")
    image_format: int = Field(255, alias="ImageFormat")
    image_info_array: list[ImageInfo] = Field(default_factory=list, alias="ImageInfoArray")


class SoundContent(WireModel):
    url: str = Field(alias="Url")
    uuid: str = Field("", alias="UUID")
    size: int = Field(0, alias="Size")
    second: int = Field(0, alias="Second")
    download_flag: int = Field(2, alias="Download_Flag")


class FileContent(WireModel):
    url: str = Field(alias="Url")
    uuid: str = Field("", alias="UUID")
    file_size: int = Field(0, alias="FileSize")
    file_name: str = Field("", alias="FileName")
    download_flag: int = Field(2, alias="Download_Flag")


class VideoContent(WireModel):
    video_url: str = Field(alias="VideoUrl")
    video_uuid: str = Field("", alias="VideoUUID")
    video_size: int = Field(0, alias="VideoSize")
    video_second: int = Field(0, alias="VideoSecond")
    video_format: str = Field("", alias="VideoFormat")
    video_download_flag: int = Field(2, alias="VideoDownloadFlag")
    thumb_url: str = Field("", alias="ThumbUrl")
    thumb_uuid: str = Field("", alias="ThumbUUID")
    thumb_size: int = Field(0, alias="ThumbSize")
    thumb_width: int = Field(0, alias="ThumbWidth")
    thumb_height: int = Field(0, alias="ThumbHeight")
    thumb_format: str = Field("", alias="ThumbFormat")
    thumb_download_flag: int = Field(2, alias="ThumbDownloadFlag")


class RelayContent(WireModel):
    title: str = Field("", alias="Title")
    msg_num: int = Field(0, alias="MsgNum")
    compatible_text: str = Field("", alias="CompatibleText")
    abstract_list: list[str] = Field(default_factory=list, alias="AbstractList")
    msg_list: list[dict[str, Any]] = Field(default_factory=list, alias="MsgList")


class StreamContent(WireModel):
    chunks: list[dict[str, Any]] = Field(default_factory=list, alias="Chunks")
    compatible_text: str = Field("", alias="CompatibleText")
    stream_msg_id: str | None = Field(None, alias="StreamMsgID")


class TextElem(WireModel):
    msg_type: Literal["TIMTextElem"] = Field("TIMTextElem", alias="MsgType")
    msg_content: TextContent = Field(alias="MsgContent")


class CustomElem(WireModel):
    msg_type: Literal["TIMCustomElem"] = Field("TIMCustomElem", alias="MsgType")
    msg_content: CustomContent = Field(alias="MsgContent")


class FaceElem(WireModel):
    msg_type: Literal["TIMFaceElem"] = Field("TIMFaceElem", alias="MsgType")
    msg_content: FaceContent = Field(alias="MsgContent")


class LocationElem(WireModel):
    msg_type: Literal["TIMLocationElem"] = Field("TIMLocationElem", alias="MsgType")
    msg_content: LocationContent = Field(alias="MsgContent")


class ImageElem(WireModel):
    msg_type: Literal["TIMImageElem"] = Field("TIMImageElem", alias="MsgType")
    msg_content: ImageContent = Field(alias="MsgContent")


class SoundElem(WireModel):
    msg_type: Literal["TIMSoundElem"] = Field("TIMSoundElem", alias="MsgType")
    msg_content: SoundContent = Field(alias="MsgContent")


class FileElem(WireModel):
    msg_type: Literal["TIMFileElem"] = Field("TIMFileElem", alias="MsgType")
    msg_content: FileContent = Field(alias="MsgContent")


class VideoFileElem(WireModel):
    msg_type: Literal["TIMVideoFileElem"] = Field("TIMVideoFileElem", alias="MsgType")
    msg_content: VideoContent = Field(alias="MsgContent")


class RelayElem(WireModel):
    msg_type: Literal["TIMRelayElem"] = Field("TIMRelayElem", alias="MsgType")
    msg_content: RelayContent = Field(alias="MsgContent")


class StreamElem(WireModel):
    msg_type: Literal["TIMStreamElem"] = Field("TIMStreamElem", alias="MsgType")
    msg_content: StreamContent = Field(alias="MsgContent")


class UnknownElem(WireModel):
    """An element botkit does not know, or one it does not read that came malformed; kept as it came."""

    msg_type: str = Field(alias="MsgType")
    msg_content: Any = Field(default_factory=dict, alias="MsgContent")


_KNOWN: dict[str, type[WireModel]] = {
    "TIMTextElem": TextElem,
    "TIMCustomElem": CustomElem,
    "TIMFaceElem": FaceElem,
    "TIMLocationElem": LocationElem,
    "TIMImageElem": ImageElem,
    "TIMSoundElem": SoundElem,
    "TIMFileElem": FileElem,
    "TIMVideoFileElem": VideoFileElem,
    "TIMRelayElem": RelayElem,
    "TIMStreamElem": StreamElem,
}


def _element_tag(value: Any) -> str:
    if isinstance(value, UnknownElem):  # also a known type kept as it came (see _keep_unread)
        return "unknown"
    msg_type = value.get("MsgType") if isinstance(value, dict) else getattr(value, "msg_type", None)
    return msg_type if msg_type in _KNOWN else "unknown"


def _keep_unread(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """An element botkit does not read (all but text) never refuses a message: a malformed one
    (a sound without `Url`, a face without `Index`) is kept as an `UnknownElem`."""
    try:
        return handler(value)
    except ValidationError:
        msg_type = value.get("MsgType") if isinstance(value, dict) else None
        if not isinstance(msg_type, str) or msg_type == "TIMTextElem":
            raise
        return UnknownElem.model_validate(value)


Element = Annotated[
    Annotated[TextElem, Tag("TIMTextElem")]
    | Annotated[CustomElem, Tag("TIMCustomElem")]
    | Annotated[FaceElem, Tag("TIMFaceElem")]
    | Annotated[LocationElem, Tag("TIMLocationElem")]
    | Annotated[ImageElem, Tag("TIMImageElem")]
    | Annotated[SoundElem, Tag("TIMSoundElem")]
    | Annotated[FileElem, Tag("TIMFileElem")]
    | Annotated[VideoFileElem, Tag("TIMVideoFileElem")]
    | Annotated[RelayElem, Tag("TIMRelayElem")]
    | Annotated[StreamElem, Tag("TIMStreamElem")]
    | Annotated[UnknownElem, Tag("unknown")],
    Discriminator(_element_tag),
    WrapValidator(_keep_unread),
]
"""One `MsgBody` item; the model class follows `MsgType`, anything else is an `UnknownElem`."""

MsgBody = list[Element]
msg_body_adapter: TypeAdapter[MsgBody] = TypeAdapter(MsgBody)


def text_body(text: str) -> MsgBody:
    """A message body holding one text element."""
    return [TextElem(msg_content=TextContent(text=text))]


def body_text(body: MsgBody) -> str:
    """The text of a body: its text elements joined, other elements left out."""
    return "".join(elem.msg_content.text for elem in body if isinstance(elem, TextElem))


def dump_body(body: MsgBody) -> list[dict[str, Any]]:
    """A body as JSON-ready dicts with Tencent's field names."""
    dumped: list[dict[str, Any]] = msg_body_adapter.dump_python(
        body, mode="json", by_alias=True, exclude_none=True
    )
    return dumped


def image_urls(body: MsgBody) -> list[str]:
    """The URL of the largest version of each image in a body."""
    urls = []
    for image in body:
        if isinstance(image, ImageElem) and image.msg_content.image_info_array:
            largest = max(image.msg_content.image_info_array, key=lambda info: info.width * info.height)
            urls.append(largest.url)
    return urls


def mention_text(account: str, text: str) -> str:
    """`text` @-mentioning `account` as Tencent clients write it: "@" + the UserID first, so a robot
    is mentioned as "@@RBT#001 hi" (https://trtc.io/document/68953). `GroupAtInfo` names it too."""
    return f"@{account} {text}"


def leading_mentions(text: str) -> list[str]:
    """The accounts the leading "@<UserID>" words of `text` mention, in order: the sandbox's rule for
    a client that names its mentions in the text only."""
    accounts = []
    for word in text.split():
        if not word.startswith("@") or len(word) == 1:
            break
        accounts.append(word[1:])
    return accounts


def strip_mentions(text: str, accounts: Iterable[str]) -> str:
    """`text` without its "@<account>" mentions of `accounts`, wherever they stand: what the model is
    asked. A longer ID that starts with one of them ("@@RBT#10" for "@RBT#1") is not a mention of it."""
    for account in sorted(accounts, key=len, reverse=True):
        text = re.sub(re.escape("@" + account) + r"(?![\w#@.-])\s*", "", text)
    return text.strip()
