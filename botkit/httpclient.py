"""`create_http_client`: the one way botkit, the sandbox and the bench build an `httpx.AsyncClient`.

Underneath httpx's API is botkit's own HTTP/1.1 transport (`botkit.transport.PooledTransport`).
httpx's own pool slows down with the square of the requests waiting on it (encode/httpx#3215):
1,000 model calls in flight take tens of seconds instead of the model's 1.5 s. aiohttp's pool
(through `httpx-aiohttp`) holds thousands but costs CPU: one request round trip on loopback took
about 500 µs of CPU through httpx over aiohttp, 260 µs through aiohttp alone, 100 µs through raw
asyncio streams, and opening 2,500 model connections at once was a third of the bot's CPU. Over
PooledTransport the round trip takes about 300 µs, 410 µs on a new connection (760 µs over
aiohttp), most of it httpx's own. `python bench/transports.py` compares them at thousands in
flight. Tests hand in `MockTransport` or `ASGITransport`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from botkit.config import Settings
from botkit.transport import PooledTransport

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
    """A client on the shared pool settings, over a `PooledTransport` unless `transport` is given;
    opens no connection before its first request.

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
        transport = PooledTransport(limits)
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT),
        limits=limits,
        base_url=base_url,
        event_hooks={name: list(hooks) for name, hooks in (event_hooks or {}).items()},
    )
