"""The webhook endpoint: the only code that sees an HTTP request. Check, journal, ack.

The ack comes before any model or REST work: Tencent gives a callback 2 seconds, an LLM answer
takes longer, and the journal already holds the message safely.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from botkit.callbacks import (
    ACK_BODY,
    MAX_CALLBACK_BYTES,
    CallbackQuery,
    parse_callback,
    parse_query,
    refusal_body,
)
from botkit.config import Settings
from botkit.errors import CallbackError
from botkit.intake import Intake
from botkit.metrics import Metrics
from botkit.signature import verify_callback

log = logging.getLogger("botkit.webhook")


def check_source(client: str, allowed: Sequence[IPv4Network | IPv6Network]) -> None:
    """With `BOTKIT_ALLOWED_SOURCES` set, only those networks may post: Sign covers no body, so a
    captured signed URL could otherwise post any body for its 60 s."""
    if not allowed:
        return
    try:
        address = ip_address(client)
    except ValueError:
        raise CallbackError(403, "source address unknown and BOTKIT_ALLOWED_SOURCES is set") from None
    if not any(address in network for network in allowed):
        raise CallbackError(403, f"source {client} is not in BOTKIT_ALLOWED_SOURCES")


def check_app(query: CallbackQuery, sdkappid: int) -> None:
    if query.sdkappid != sdkappid:
        raise CallbackError(403, f"wrong app: SdkAppid {query.sdkappid} is not this service's app")


async def read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it passes the cap, whether or not it declared a length."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_CALLBACK_BYTES:
        raise CallbackError(413, f"body over {MAX_CALLBACK_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_CALLBACK_BYTES:
            raise CallbackError(413, f"body over {MAX_CALLBACK_BYTES} bytes")
    return bytes(body)


def create_webhook_route(
    settings: Settings,
    intake: Intake,
    *,
    clock: Callable[[], float] = time.time,
    metrics: Metrics | None = None,
) -> Route:
    """`POST {settings.callback_path}`: verify the callback, journal it, answer Tencent's success body.

    A plain Starlette route, not a FastAPI one: the ack path skips FastAPI's dependency solving
    and validation, which the profile showed costing more than the checks themselves.
    """
    token = settings.callback_token.get_secret_value() if settings.callback_token else None
    meter = metrics or Metrics()

    async def receive_callback(request: Request) -> JSONResponse:
        try:
            check_source(_client(request), settings.allowed_sources)
            query = parse_query(request.query_params)
            check_app(query, settings.sdkappid)
            if token is not None:
                verify_callback(token, query.sign, query.request_time, clock=clock)
            message = parse_callback(query.callback_command, await read_body(request))
        except CallbackError as exc:
            log.warning("refused callback from %s: %r", _client(request), exc.reason)
            meter.callback_refused(request.query_params.get("CallbackCommand"), exc.status)
            return _failure(exc.status, exc.reason)
        except ClientDisconnect:
            # Nobody is left to answer; no traceback, and nothing was journalled.
            log.info("client %s disconnected before the whole body arrived", _client(request))
            return _failure(400, "client disconnected mid-body")
        try:
            is_new = await intake.record(message)
        except Exception:
            # Not acked, so Tencent's retry (when switched on) or the sender can try again.
            log.exception("cannot journal %r", message.dedupe_key)
            meter.callback_refused(message.callback_command, 503)
            return _failure(503, "the bot cannot store the message right now; try again")
        meter.callback_recorded(message.callback_command, is_new)
        return JSONResponse(ACK_BODY)

    return Route(settings.callback_path, receive_callback, methods=["POST"])


def _failure(status: int, reason: str) -> JSONResponse:
    return JSONResponse(refusal_body(reason), status_code=status)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
