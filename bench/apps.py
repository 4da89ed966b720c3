"""The two ASGI apps the webhook benchmark compares, loaded by uvicorn in a child process.

`bare` is the ceiling: it answers Tencent's ack and does nothing else. `bot` is botkit's real
webhook (checks, journal, ack) with the echo model and a Chat API faked in-process, so the
benchmark measures botkit and not a network.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI

from botkit import Settings, create_app
from botkit.llm.echo import EchoProvider

ACK = json.dumps({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}).encode()
SDKAPPID = 1400000000
KEY = "bench-secret-key"
TOKEN = "bench-token"


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The least an ASGI server can do for a callback: drain the body, send the ack."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(ACK)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": ACK})


def _chat_ok(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    answer = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "MsgTime": 1, "MsgSeq": 1}
    answer["MsgKey"] = f"{body.get('MsgSeq', 0)}_{body.get('MsgRandom', 0)}_1"
    return httpx.Response(200, json=answer)


def bot() -> FastAPI:
    settings = Settings(
        sdkappid=SDKAPPID,
        key=KEY,
        callback_token=TOKEN,
        api_base="http://chat.bench",
        store="memory://",
        llm="echo",
        log_level="WARNING",
    )
    return create_app(settings, transport=httpx.MockTransport(_chat_ok), provider=EchoProvider())
