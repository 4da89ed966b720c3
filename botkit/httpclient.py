"""`create_http_client`: the one way botkit, the sandbox and the bench build an `httpx.AsyncClient`.

httpx's own connection pool slows down with the square of the requests waiting on it (encode/httpx
#3215): 1,000 model calls in flight take tens of seconds instead of the model's 1.5 s. Underneath
the httpx API the default transport is therefore aiohttp's pool, through `httpx-aiohttp`
(measured by `python bench/transports.py`); tests hand in `MockTransport` or `ASGITransport`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from botkit.config import Settings

CONNECT_TIMEOUT = 5.0
DEFAULT_TIMEOUT = 10.0
"""Seconds for a read or a pool wait when neither settings nor a timeout are given."""
# Thousands of answers in flight, each holding a model connection; bounded so a runaway burst
# meets a pool wait rather than the process's file descriptor limit.
MAX_CONNECTIONS = 4096
KEEPALIVE_SECONDS = 15.0

EventHooks = Mapping[str, Sequence[Callable[..., Any]]]


def create_http_client(
    settings: Settings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    timeout: float | None = None,
    base_url: str = "",
    event_hooks: EventHooks | None = None,
) -> httpx.AsyncClient:
    """A client on the shared pool settings; opens no connection before its first request.

    Reads and pool waits get `timeout` seconds, or with `settings` the longer of
    `BOTKIT_REST_TIMEOUT` and `BOTKIT_LLM_TIMEOUT` (the bot's client: callers narrow it per
    request), or `DEFAULT_TIMEOUT`; connecting gets `CONNECT_TIMEOUT`. `transport` replaces the
    network, e.g. in tests. Proxy variables from the environment are not used.
    """
    if timeout is None:
        timeout = DEFAULT_TIMEOUT if settings is None else max(settings.rest_timeout, settings.llm_timeout)
    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS,
        max_keepalive_connections=MAX_CONNECTIONS,
        keepalive_expiry=KEEPALIVE_SECONDS,
    )
    if transport is None:
        transport = _aiohttp_transport(limits)
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT),
        limits=limits,
        base_url=base_url,
        event_hooks={name: list(hooks) for name, hooks in (event_hooks or {}).items()},
    )


def _aiohttp_transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    # Imported here: aiohttp takes ~0.4 s to import, which CLI commands that never connect skip.
    import aiohttp
    from httpx_aiohttp import AiohttpTransport

    class Transport(AiohttpTransport):
        """httpx-aiohttp 0.2 reports a refused connection as a ConnectTimeout; it is a ConnectError,
        and botkit's errors should say "cannot reach", not "timed out"."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            try:
                return await super().handle_async_request(request)
            except httpx.ConnectTimeout as exc:
                cause = exc.__cause__
                if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(
                    cause, aiohttp.ServerTimeoutError
                ):
                    raise httpx.ConnectError(str(exc), request=request) from cause
                raise

    return Transport(limits=limits)
