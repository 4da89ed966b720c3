"""Shared fixtures: explicit settings, a clean BOTKIT_* environment, signed-callback builders."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from botkit import callbacks
from botkit.callbacks import CallbackQuery
from botkit.config import Settings

pytest_plugins = ["tests.redisserver"]

SDKAPPID = 1400000000
KEY = "test-secret-key-0123456789abcdef"
TOKEN = "test-callback-token"


@pytest.fixture(autouse=True)
def _scrub_botkit_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """No test sees the developer's BOTKIT_* variables or .env file."""
    for name in list(os.environ):
        if name.startswith("BOTKIT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def settings() -> Settings:
    return Settings(
        sdkappid=SDKAPPID,
        key=KEY,
        callback_token=TOKEN,
        api_base="http://chat.test",
        robots=["@RBT#001"],
        llm="echo",
        store="memory://",
    )


def callback_url(
    command: str,
    *,
    path: str = "/im",
    sdkappid: int = SDKAPPID,
    token: str | None = TOKEN,
    request_time: int | None = None,
) -> str:
    """A callback URL with Tencent's query string, signed when a token is given."""
    query = CallbackQuery(
        sdkappid=sdkappid, callback_command=command, client_ip="203.0.113.7", opt_platform="RESTAPI"
    )
    now = request_time if request_time is not None else int(time.time())
    return callbacks.callback_url(path, query.params(), token=token, request_time=now)


def c2c_body(text: str = "hello", *, sender: str = "u1", robot: str = "@RBT#001", seq: int = 1) -> bytes:
    msg_time = 1700000100 + seq
    return json.dumps(
        {
            "CallbackCommand": "Bot.OnC2CMessage",
            "From_Account": sender,
            "To_Account": robot,
            "MsgSeq": seq,
            "MsgRandom": 918273645,
            "MsgTime": msg_time,
            "MsgKey": f"{seq}_918273645_{msg_time}",
            "OnlineOnlyFlag": 0,
            "SendMsgResult": 0,
            "ErrorInfo": "send msg succeed",
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}],
            "CloudCustomData": "",
            "EventTime": msg_time * 1000 + 123,
        }
    ).encode()


def group_body(
    text: str = "@@RBT#001 hello",
    *,
    sender: str = "u1",
    robots: list[str] | None = None,
    group: str = "@TGS#2ABCDEFGH",
    seq: int = 42,
) -> bytes:
    return json.dumps(
        {
            "CallbackCommand": "Bot.OnGroupMessage",
            "GroupId": group,
            "Type": "Public",
            "From_Account": sender,
            "Operator_Account": sender,
            "Random": 55667788,
            "MsgSeq": seq,
            "MsgTime": 1700000200,
            "OnlineOnlyFlag": 0,
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}],
            "AtRobots_Account": robots if robots is not None else ["@RBT#001"],
            "CloudCustomData": "",
            "EventTime": 1700000200456,
        }
    ).encode()
