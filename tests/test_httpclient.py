"""create_http_client: explicit timeouts, a given transport used as is, and the default pool on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from botkit.config import Settings
from botkit.httpclient import CONNECT_TIMEOUT, DEFAULT_TIMEOUT, create_http_client

Answer = Callable[[bytes], Awaitable[bytes]]


async def _ok(body: bytes) -> bytes:
    return json.dumps({"echo": json.loads(body or b"null")}).encode()


class LoopbackServer:
    """A tiny HTTP/1.1 server on 127.0.0.1 whose `answer` turns each request body into a JSON reply."""

    def __init__(self, answer: Answer = _ok) -> None:
        self.answer = answer
        self.requests = 0
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                self.requests += 1
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.lower().split(b"\r\n")
                        if line.startswith(b"content-length:")
                    ),
                    0,
                )
                reply = await self.answer(await reader.readexactly(length))
                status = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                writer.write(status + b"content-length: %d\r\n\r\n" % len(reply) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    loopback = LoopbackServer()
    tcp = await asyncio.start_server(loopback.handle, "127.0.0.1", 0)
    loopback.url = f"http://127.0.0.1:{tcp.sockets[0].getsockname()[1]}"
    async with tcp:
        yield loopback


async def test_a_given_transport_is_used_with_explicit_timeouts(settings: Settings) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    async with create_http_client(settings, httpx.MockTransport(handler)) as client:
        answer = await client.get("http://chat.test/ping")

    assert answer.json() == {"ok": True}
    longest = max(settings.rest_timeout, settings.llm_timeout)
    expected = {"connect": CONNECT_TIMEOUT, "read": longest, "write": longest, "pool": longest}
    assert seen[0].extensions["timeout"] == expected


@pytest.mark.parametrize(
    ("with_settings", "timeout", "expected"),
    [(True, 3.0, 3.0), (False, 3.0, 3.0), (False, None, DEFAULT_TIMEOUT)],
    ids=["timeout-over-settings", "timeout-alone", "neither"],
)
async def test_a_client_for_others_than_the_bot_names_its_timeout_and_base_url(
    settings: Settings, with_settings: bool, timeout: float | None, expected: float
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    transport = httpx.MockTransport(handler)
    bot = settings if with_settings else None
    async with create_http_client(bot, transport, timeout=timeout, base_url="http://stand.in") as client:
        await client.get("/stats")

    assert str(seen[0].url) == "http://stand.in/stats"
    assert seen[0].extensions["timeout"] == {
        "connect": CONNECT_TIMEOUT,
        "read": expected,
        "write": expected,
        "pool": expected,
    }


async def test_event_hooks_see_every_response(settings: Settings) -> None:
    statuses: list[int] = []

    async def record(response: httpx.Response) -> None:
        statuses.append(response.status_code)

    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    async with create_http_client(settings, transport, event_hooks={"response": [record]}) as client:
        await client.get("http://chat.test/a")
        await client.get("http://chat.test/b")

    assert statuses == [204, 204]


async def test_default_transport_posts_over_loopback_and_closes_cleanly(
    settings: Settings, server: LoopbackServer
) -> None:
    async with create_http_client(settings) as client:
        answer = await client.post(f"{server.url}/v4/openim/sendmsg", json={"To_Account": "alice"})

    assert answer.status_code == 200
    assert answer.json() == {"echo": {"To_Account": "alice"}}


async def test_default_pool_holds_more_requests_in_flight_than_httpx_default_limit(
    settings: Settings, server: LoopbackServer
) -> None:
    # Every request is held until all of them have arrived: a pool capped at httpx's default of
    # 100 connections would never let the rest through.
    in_flight = 300
    everyone_arrived = asyncio.Event()

    async def hold(body: bytes) -> bytes:
        if server.requests >= in_flight:
            everyone_arrived.set()
        await everyone_arrived.wait()
        return b"{}"

    server.answer = hold
    async with create_http_client(settings) as client, asyncio.timeout(20):
        answers = await asyncio.gather(
            *(client.post(f"{server.url}/model", json={}) for _ in range(in_flight))
        )

    assert [answer.status_code for answer in answers] == [200] * in_flight


async def test_default_transport_raises_httpx_timeout_when_no_answer_comes(
    settings: Settings, server: LoopbackServer
) -> None:
    async def never(body: bytes) -> bytes:
        await asyncio.Event().wait()
        return b""

    server.answer = never
    async with create_http_client(settings) as client:
        with pytest.raises(httpx.TimeoutException):
            await client.post(f"{server.url}/model", json={}, timeout=0.2)


async def test_default_transport_raises_httpx_transport_error_when_refused(settings: Settings) -> None:
    closed = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = closed.sockets[0].getsockname()[1]
    closed.close()
    await closed.wait_closed()

    async with create_http_client(settings) as client:
        with pytest.raises(httpx.TransportError):
            await client.get(f"http://127.0.0.1:{port}/")


async def test_a_refused_connection_is_a_connect_error_naming_the_address_not_a_timeout(
    settings: Settings,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused

        async with create_http_client(settings) as http:
            with pytest.raises(httpx.ConnectError) as caught:
                await http.get(f"http://127.0.0.1:{port}/")

    assert not isinstance(caught.value, httpx.TimeoutException)
    assert str(caught.value).startswith(f"cannot connect to 127.0.0.1:{port}: ")
    assert caught.value.request.url.port == port
