"""The servers measured besides botkit, each loaded by uvicorn in its own pinned process.

`bare` is the ceiling: it answers Tencent's ack and does nothing else. `slack` is the peer: Slack
Bolt's `AsyncApp` behind its Starlette adapter, verifying each event's signature and acking it, as
a Slack bot on the same load would (pip install 'botkit[bench]'). The constants are the made-up
credentials every server of a run, botkit included, is configured with.
"""

from __future__ import annotations

import json
import os
from typing import Any

from botkit.callbacks import ACK_BODY

ACK = json.dumps(ACK_BODY).encode()
SDKAPPID = 1400000000
KEY = "bench-secret-key"
TOKEN = "bench-token"
SLACK_SECRET = "bench-slack-signing-secret"
SLACK_TOKEN = "xoxb-bench"


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


def slack() -> Any:
    """A single-workspace Bolt app acking message events on POST /slack/events (a uvicorn `--factory`).

    Its Web API client points at the stand-ins (`BENCH_SLACK_API`), which answer the one `auth.test`
    Bolt makes and caches, so no request leaves the machine.
    """
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    client = AsyncWebClient(token=SLACK_TOKEN, base_url=os.environ["BENCH_SLACK_API"])
    bolt = AsyncApp(signing_secret=SLACK_SECRET, client=client)

    @bolt.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        """Bolt has already acked; a bot would hand the message on from here."""

    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
