"""Shared fixtures: explicit settings, a clean BOTKIT_* environment, signed-callback builders."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from botkit import callbacks
from botkit.callbacks import C2CMessage, CallbackQuery, GroupMessage, dump_callback
from botkit.config import Settings
from botkit.elements import text_body

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
    message = C2CMessage(
        from_account=sender,
        to_account=robot,
        msg_seq=seq,
        msg_random=918273645,
        msg_time=msg_time,
        msg_key=f"{seq}_918273645_{msg_time}",
        error_info="send msg succeed",
        msg_body=text_body(text),
        event_time=msg_time * 1000 + 123,
    )
    return json.dumps(dump_callback(message)).encode()


def group_body(
    text: str = "@@RBT#001 hello",
    *,
    sender: str = "u1",
    robots: list[str] | None = None,
    group: str = "@TGS#2ABCDEFGH",
    seq: int = 42,
) -> bytes:
    message = GroupMessage(
        group_id=group,
        type="Public",
        from_account=sender,
        operator_account=sender,
        random=55667788,
        msg_seq=seq,
        msg_time=1700000200,
        msg_body=text_body(text),
        at_robots_account=robots if robots is not None else ["@RBT#001"],
        event_time=1700000200456,
    )
    return json.dumps(dump_callback(message)).encode()
