"""Message elements: each protocol.md §7 type parses into its class, unknown types are kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from botkit.elements import (
    CustomElem,
    FaceElem,
    FileElem,
    ImageElem,
    LocationElem,
    MsgBody,
    RelayElem,
    SoundElem,
    StreamElem,
    TextContent,
    TextElem,
    UnknownElem,
    VideoFileElem,
    WireModel,
    body_text,
    dump_body,
    leading_mentions,
    mention_text,
    msg_body_adapter,
    strip_mentions,
    text_body,
)

PAYLOADS = Path(__file__).parent / "payloads"

# One element of each documented MsgType, with every MsgContent field of protocol.md §7.
ELEMENTS: list[tuple[type[WireModel], dict[str, Any]]] = [
    (TextElem, {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello 你好 👋"}}),
    (
        CustomElem,
        {
            "MsgType": "TIMCustomElem",
            "MsgContent": {
                "Data": '{"kind":"card"}',
                "Desc": "notification",
                "Ext": "url",
                "Sound": "dingdong.aiff",
            },
        },
    ),
    (FaceElem, {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1, "Data": "content"}}),
    (
        LocationElem,
        {
            "MsgType": "TIMLocationElem",
            "MsgContent": {
                "Desc": "someinfo",
                "Latitude": 29.340656774469956,
                "Longitude": 116.89200683587645,
            },
        },
    ),
    (
        ImageElem,
        {
            "MsgType": "TIMImageElem",
            "MsgContent": {
                "UUID": "1853095_D61040894AC3DE44CDFFFB3EC7EB720F",
                "ImageFormat": 1,
                "ImageInfoArray": [
                    {
                        "Type": 1,
                        "Size": 1853095,
                        "Width": 2448,
                        "Height": 3264,
                        "URL": "https://example.test/o.jpg",
                    },
                    {"Type": 2, "Size": 0, "Width": 720, "Height": 960, "URL": "https://example.test/l.jpg"},
                    {"Type": 3, "Size": 0, "Width": 150, "Height": 200, "URL": "https://example.test/t.jpg"},
                ],
            },
        },
    ),
    (
        SoundElem,
        {
            "MsgType": "TIMSoundElem",
            "MsgContent": {
                "Url": "https://example.test/a.m4a",
                "UUID": "5:1:a",
                "Size": 8192,
                "Second": 10,
                "Download_Flag": 2,
            },
        },
    ),
    (
        FileElem,
        {
            "MsgType": "TIMFileElem",
            "MsgContent": {
                "Url": "https://example.test/f.txt",
                "UUID": "6:1:f",
                "FileSize": 1773552,
                "FileName": "file:report.txt",
                "Download_Flag": 2,
            },
        },
    ),
    (
        VideoFileElem,
        {
            "MsgType": "TIMVideoFileElem",
            "MsgContent": {
                "VideoUrl": "https://example.test/v.mp4",
                "VideoUUID": "5da38ba89d6521d",
                "VideoSize": 1194603,
                "VideoSecond": 5,
                "VideoFormat": "mp4",
                "VideoDownloadFlag": 2,
                "ThumbUrl": "https://example.test/v.jpg",
                "ThumbUUID": "6edaffedef5150684510a9",
                "ThumbSize": 13907,
                "ThumbWidth": 720,
                "ThumbHeight": 1280,
                "ThumbFormat": "JPG",
                "ThumbDownloadFlag": 2,
            },
        },
    ),
    (
        RelayElem,
        {
            "MsgType": "TIMRelayElem",
            "MsgContent": {
                "Title": "Chat history",
                "MsgNum": 2,
                "CompatibleText": "Please upgrade to see merged messages",
                "AbstractList": ["alice: hi", "bob: hello"],
                "MsgList": [
                    {
                        "From_Account": "alice",
                        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}],
                    }
                ],
            },
        },
    ),
    (
        StreamElem,
        {
            "MsgType": "TIMStreamElem",
            "MsgContent": {
                "Chunks": [{"EventType": "data", "Index": 1, "Markdown": "Hel", "IsLast": False}],
                "CompatibleText": "Hello",
                "StreamMsgID": "stream-1",
            },
        },
    ),
]


@pytest.mark.parametrize(("cls", "element"), ELEMENTS, ids=[e["MsgType"] for _, e in ELEMENTS])
def test_each_documented_type_parses_into_its_class(cls: type[WireModel], element: dict[str, Any]) -> None:
    [parsed] = msg_body_adapter.validate_python([element])

    assert type(parsed) is cls


@pytest.mark.parametrize(("cls", "element"), ELEMENTS, ids=[e["MsgType"] for _, e in ELEMENTS])
def test_each_documented_type_dumps_back_unchanged(cls: type[WireModel], element: dict[str, Any]) -> None:
    assert dump_body(msg_body_adapter.validate_python([element])) == [element]


def test_fields_are_read_by_snake_case_name() -> None:
    body = msg_body_adapter.validate_python([element for _, element in ELEMENTS])
    by_type = {type(elem): elem for elem in body}

    image = by_type[ImageElem]
    assert isinstance(image, ImageElem)
    assert image.msg_content.image_format == 1
    assert [info.type for info in image.msg_content.image_info_array] == [1, 2, 3]
    sound = by_type[SoundElem]
    assert isinstance(sound, SoundElem)
    assert (sound.msg_content.second, sound.msg_content.download_flag) == (10, 2)
    video = by_type[VideoFileElem]
    assert isinstance(video, VideoFileElem)
    assert video.msg_content.thumb_height == 1280
    location = by_type[LocationElem]
    assert isinstance(location, LocationElem)
    assert location.msg_content.latitude == pytest.approx(29.340656774469956)
    stream = by_type[StreamElem]
    assert isinstance(stream, StreamElem)
    assert stream.msg_content.stream_msg_id == "stream-1"


@pytest.mark.parametrize(
    "element",
    [
        {"MsgType": "TIMHologramElem", "MsgContent": {"Beam": "blue", "Nested": {"A": [1]}}},
        {"MsgType": "TIMGroupTipElem", "MsgContent": {}},
        {"MsgType": "TIMHologramElem"},
        {"MsgType": "timtextelem", "MsgContent": {"Text": "case matters"}},
    ],
)
def test_unknown_type_is_kept_as_unknown_elem(element: dict[str, Any]) -> None:
    [parsed] = msg_body_adapter.validate_python([element])

    assert isinstance(parsed, UnknownElem)
    assert parsed.msg_type == element["MsgType"]
    assert parsed.msg_content == element.get("MsgContent", {})


def test_unknown_type_round_trips() -> None:
    element = {"MsgType": "TIMHologramElem", "MsgContent": {"Beam": "blue", "Nested": {"A": [1]}}}

    assert dump_body(msg_body_adapter.validate_python([element])) == [element]


def test_unknown_fields_in_known_elements_are_kept() -> None:
    element = {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi", "Lang": "en"}, "Extra": 1}

    assert dump_body(msg_body_adapter.validate_python([element])) == [element]


@pytest.mark.parametrize(
    "element",
    [
        {"MsgType": "TIMTextElem", "MsgContent": {}},
        {"MsgType": "TIMTextElem", "MsgContent": {"Text": 5}},
        {"MsgContent": {"Text": "no type"}},
        "TIMTextElem",
    ],
)
def test_malformed_text_element_or_non_element_is_rejected(element: object) -> None:
    with pytest.raises(ValueError):
        msg_body_adapter.validate_python([element])


UNREAD_MALFORMED = [
    {"MsgType": "TIMSoundElem", "MsgContent": {"UUID": "s1", "Second": 3}},
    {"MsgType": "TIMImageElem", "MsgContent": {"UUID": "i1", "ImageInfoArray": [{"Type": 1, "Size": 9}]}},
    {"MsgType": "TIMFaceElem", "MsgContent": {"Data": "x"}},
    {"MsgType": "TIMLocationElem", "MsgContent": {"Latitude": "north", "Longitude": 1.0}},
    {"MsgType": "TIMFileElem", "MsgContent": None},
    {"MsgType": "TIMCustomElem", "MsgContent": {"Data": {"not": "a string"}}},
]


@pytest.mark.parametrize("element", UNREAD_MALFORMED)
def test_a_malformed_element_botkit_does_not_read_is_kept_as_it_came(element: dict[str, Any]) -> None:
    text = {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}
    body = msg_body_adapter.validate_python([element, text])

    assert isinstance(body[0], UnknownElem)
    assert body_text(body) == "hi"
    assert dump_body(body)[0] == {name: value for name, value in element.items() if value is not None}


def test_sendmsg_example_body_parses() -> None:
    request = json.loads((PAYLOADS / "sendmsg_request.json").read_text(encoding="utf-8"))

    body = msg_body_adapter.validate_python(request["MsgBody"])

    assert body_text(body) == "A UserSig is a signed login ticket."
    assert dump_body(body) == request["MsgBody"]


@pytest.mark.parametrize("text", ["hello", "", "多行\n文本 🎉"])
def test_text_body_dumps_to_one_text_element(text: str) -> None:
    assert dump_body(text_body(text)) == [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]


@pytest.mark.parametrize(
    ("elements", "expected"),
    [
        ([], ""),
        ([{"MsgType": "TIMTextElem", "MsgContent": {"Text": "only"}}], "only"),
        (
            [
                {"MsgType": "TIMTextElem", "MsgContent": {"Text": "look: "}},
                {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1, "Data": "smile"}},
                {"MsgType": "TIMTextElem", "MsgContent": {"Text": "nice"}},
            ],
            "look: nice",
        ),
        ([{"MsgType": "TIMCustomElem", "MsgContent": {"Data": "not text"}}], ""),
        ([{"MsgType": "TIMHologramElem", "MsgContent": {"Text": "unknown is not text"}}], ""),
    ],
)
def test_body_text_joins_text_elements_only(elements: list[dict[str, Any]], expected: str) -> None:
    assert body_text(msg_body_adapter.validate_python(elements)) == expected


def test_dump_body_leaves_out_unset_optionals() -> None:
    body: MsgBody = [CustomElem.model_validate({"MsgContent": {"Data": "x"}})]

    assert dump_body(body) == [{"MsgType": "TIMCustomElem", "MsgContent": {"Data": "x"}}]


def test_models_accept_snake_case_names() -> None:
    elem = TextElem(msg_content=TextContent(text="by name"))

    assert dump_body([elem]) == [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "by name"}}]


def test_a_mention_is_written_as_tencent_clients_write_it() -> None:
    assert mention_text("@RBT#001", "what is a UserSig?") == "@@RBT#001 what is a UserSig?"


@pytest.mark.parametrize(
    ("text", "accounts"),
    [
        ("@@RBT#001 hi", ["@RBT#001"]),
        ("@alice @@RBT#001 hi @bob", ["alice", "@RBT#001"]),
        ("@ hi", []),
        ("hello @@RBT#001", []),
        ("", []),
    ],
)
def test_leading_mentions_are_the_first_at_words(text: str, accounts: list[str]) -> None:
    assert leading_mentions(text) == accounts


@pytest.mark.parametrize("account", ["@RBT#001", "alice", "@RBT#a.b"])
def test_a_written_mention_reads_back(account: str) -> None:
    text = mention_text(account, "hi there")

    assert leading_mentions(text) == [account]
    assert strip_mentions(text, [account]) == "hi there"
