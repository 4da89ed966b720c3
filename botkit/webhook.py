"""The webhook endpoint: the only code that sees an HTTP request. Check, journal, ack.

The ack comes before any model or REST work: Tencent gives a callback 2 seconds, an LLM answer
takes longer, and the journal already holds the message safely.

`Webhook.accept` is the whole decision, as a plain method from (client, query, body reader) to a
`Reply`; `Webhook.__call__` is a bare ASGI app translating to and from it. `create_app` puts it in
front of FastAPI, so a callback meets none of FastAPI's or Starlette's routing, middleware and
request objects, which cost more CPU per callback than the checks and the journal write together.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

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


class ClientGone(Exception):
    """The client disconnected before the whole body arrived."""


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, JSON body and headers, ready for ASGI."""

    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]

    @classmethod
    def json(cls, status: int, content: Any, *extra: tuple[bytes, bytes]) -> Reply:
        """The bytes Starlette's JSONResponse would send for `content`."""
        body = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        length = (b"content-length", str(len(body)).encode())
        return cls(status, body, [*extra, length, (b"content-type", b"application/json")])

    @classmethod
    def failure(cls, status: int, reason: str) -> Reply:
        return cls.json(status, refusal_body(reason))


ACK = Reply.json(200, ACK_BODY)
METHOD_NOT_ALLOWED = Reply.json(405, {"detail": "Method Not Allowed"}, (b"allow", b"POST"))
"""What FastAPI answers a method its route does not take."""


def parse_query_string(raw: bytes) -> dict[str, str]:
    """The query string as `dict(parse_qsl(..., keep_blank_values=True))` reads it (the last of a
    repeated name wins); a query with no escapes, as Tencent's are, skips urllib's per-field
    unquoting, which cost more than the signature check."""
    text = raw.decode("latin-1")
    if "%" in text or "+" in text:
        return dict(parse_qsl(text, keep_blank_values=True))
    query: dict[str, str] = {}
    for field in text.split("&"):
        if field:
            name, _, value = field.partition("=")
            query[name] = value
    return query


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


async def read_body(scope: Scope, receive: Receive) -> bytes:
    """The body, refused with 413 as soon as it passes the cap, whether or not it declared a length."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if value.isdigit() and int(value) > MAX_CALLBACK_BYTES:
                raise CallbackError(413, f"body over {MAX_CALLBACK_BYTES} bytes")
            break
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_CALLBACK_BYTES:
            raise CallbackError(413, f"body over {MAX_CALLBACK_BYTES} bytes")
        if not message.get("more_body", False):
            return chunk if len(chunks) == 1 else b"".join(chunks)  # one chunk, the usual case: no copy


class Webhook:
    """`POST {settings.callback_path}`: verify the callback, journal it, answer Tencent's success body."""

    def __init__(
        self,
        settings: Settings,
        intake: Intake,
        *,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self.path = settings.callback_path
        self._settings = settings
        self._token = settings.callback_token.get_secret_value() if settings.callback_token else None
        self._intake = intake
        self._clock = clock
        self._metrics = metrics or Metrics()

    def serves(self, scope: Scope) -> bool:
        """Whether an HTTP request is for the callback path (under the app's root path, if mounted)."""
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        return path == self.path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            reply = METHOD_NOT_ALLOWED
        else:
            query = parse_query_string(scope["query_string"])
            reply = await self.accept(_client(scope), query, partial(read_body, scope, receive))
        await send({"type": "http.response.start", "status": reply.status, "headers": reply.headers})
        await send({"type": "http.response.body", "body": reply.body})

    async def accept(
        self, client: str, query: Mapping[str, str], body: Callable[[], Awaitable[bytes]]
    ) -> Reply:
        """Check a callback, journal it and say how to answer; the body is read only once the
        query string has passed."""
        settings = self._settings
        try:
            check_source(client, settings.allowed_sources)
            parsed = parse_query(query)
            check_app(parsed, settings.sdkappid)
            if self._token is not None:
                verify_callback(self._token, parsed.sign, parsed.request_time, clock=self._clock)
            message = parse_callback(parsed.callback_command, await body())
        except CallbackError as exc:
            log.warning("refused callback from %s: %r", client, exc.reason)
            self._metrics.callback_refused(query.get("CallbackCommand"), exc.status)
            return Reply.failure(exc.status, exc.reason)
        except ClientGone:
            # Nobody is left to answer; no traceback, and nothing was journalled.
            log.info("client %s disconnected before the whole body arrived", client)
            return Reply.failure(400, "client disconnected mid-body")
        try:
            is_new = await self._intake.record(message)
        except Exception:
            # Not acked, so Tencent's retry (when switched on) or the sender can try again.
            log.exception("cannot journal %r", message.dedupe_key)
            self._metrics.callback_refused(message.callback_command, 503)
            return Reply.failure(503, "the bot cannot store the message right now; try again")
        self._metrics.callback_recorded(message.callback_command, is_new)
        return ACK


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
