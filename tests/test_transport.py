"""PooledTransport against real loopback servers: uvicorn for well-behaved HTTP, raw sockets for the rest."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import trustme
import uvicorn

from botkit.transport import PooledTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


class App:
    """An ASGI app: echoes the request with the client's port, streams on cue, or holds its answer."""

    def __init__(self) -> None:
        self.url = ""
        self.next_part = asyncio.Event()
        self.release = asyncio.Event()
        self.held = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["path"] == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for part in (b"data: one\n\n", b"data: two\n\n", b"data: three\n\n"):
                await send({"type": "http.response.body", "body": part, "more_body": True})
                await self.next_part.wait()
                self.next_part.clear()
            await send({"type": "http.response.body", "body": b""})
            return
        if scope["path"] == "/hold":  # for ?SECONDS, else until released
            self.held += 1
            if scope["query_string"]:
                await asyncio.sleep(float(scope["query_string"]))
            else:
                await self.release.wait()
        status = 204 if scope["path"] == "/empty" else 200
        echo = {"method": scope["method"], "port": scope["client"][1], "body": json.loads(body or b"null")}
        content = b"" if status == 204 else json.dumps(echo).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(content))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


@pytest.fixture
async def app() -> AsyncIterator[App]:
    served = App()
    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    server = uvicorn.Server(
        uvicorn.Config(
            served, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1
        )
    )
    task = asyncio.create_task(server.serve(sockets=[listener]))
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    served.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    yield served
    served.release.set()
    server.should_exit = True
    await task
    listener.close()


@asynccontextmanager
async def raw_server(handle: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """A server on 127.0.0.1 that speaks whatever `handle` writes; yields its port."""

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0, ssl=tls)
    async with server:
        yield server.sockets[0].getsockname()[1]


def client(**limits: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=PooledTransport(httpx.Limits(**limits)), timeout=5)


async def test_get_and_post_round_trip_json(app: App) -> None:
    async with client() as http:
        got = await http.get(f"{app.url}/echo?x=1")
        posted = await http.post(f"{app.url}/echo", json={"text": "hi"})

    assert got.status_code == 200
    assert got.http_version == "HTTP/1.1"
    assert got.json()["method"] == "GET"
    assert posted.json()["body"] == {"text": "hi"}


async def test_sequential_requests_reuse_one_connection(app: App) -> None:
    async with client() as http:
        ports = {(await http.get(f"{app.url}/echo")).json()["port"] for _ in range(5)}

    assert len(ports) == 1


async def test_an_idle_connection_past_its_keepalive_expiry_is_not_reused(app: App) -> None:
    async with client(keepalive_expiry=0) as http:
        ports = {(await http.get(f"{app.url}/echo")).json()["port"] for _ in range(2)}

    assert len(ports) == 2


async def test_a_streamed_body_goes_up_chunked(app: App) -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b'{"text": '
        yield b""
        yield b'"streamed"}'

    async with client() as http:
        answer = await http.post(f"{app.url}/echo", content=parts())

    assert answer.json()["body"] == {"text": "streamed"}


async def test_a_streamed_response_arrives_part_by_part(app: App) -> None:
    received = []
    async with client() as http, http.stream("GET", f"{app.url}/stream") as answer, asyncio.timeout(5):
        async for part in answer.aiter_raw():
            received.append(part)
            app.next_part.set()  # the server sends its next part only once this one arrived

    assert received == [b"data: one\n\n", b"data: two\n\n", b"data: three\n\n"]


async def test_head_and_204_have_no_body_and_keep_the_connection(app: App) -> None:
    async with client() as http:
        head = await http.head(f"{app.url}/echo")
        empty = await http.get(f"{app.url}/empty")
        after = await http.get(f"{app.url}/echo")

    assert (head.status_code, head.content, int(head.headers["content-length"]) > 0) == (200, b"", True)
    assert (empty.status_code, empty.content) == (204, b"")
    assert after.json()["method"] == "GET"  # the connection was still in step after both


async def test_a_chunked_response_is_reassembled() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"
        )
        await reader.read()

    async with raw_server(chunked) as port, client() as http:
        answer = await http.get(f"http://127.0.0.1:{port}/")

    assert answer.content == b"hello world"


async def test_a_response_without_length_ends_when_the_server_closes() -> None:
    connections = 0

    async def close_delimited(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil ")
        await writer.drain()
        writer.write(b"the end")

    async with raw_server(close_delimited) as port, client() as http:
        first = await http.get(f"http://127.0.0.1:{port}/")
        second = await http.get(f"http://127.0.0.1:{port}/")

    assert first.content == second.content == b"until the end"
    assert connections == 2


async def test_a_connection_the_server_closed_while_idle_is_not_handed_out() -> None:
    connections = 0

    async def one_answer_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)  # keep-alive by default, then closed anyway

    async with raw_server(one_answer_each) as port, client() as http:
        await http.get(f"http://127.0.0.1:{port}/")
        await asyncio.sleep(0.1)  # the close reaches the client
        answer = await http.get(f"http://127.0.0.1:{port}/")

    assert answer.content == b"ok"
    assert connections == 2


async def test_a_close_that_arrived_while_the_event_loop_was_busy_is_noticed_at_checkout() -> None:
    """The server (on its own thread) answers and closes; the client's loop is blocked meanwhile,
    so the close is still unread in the socket when the next request takes the idle connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    connections = []

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            connections.append(conn)
            conn.recv(65536)
            conn.sendall(OK)
            conn.close()  # keep-alive by the answer's headers, closed all the same

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    port = listener.getsockname()[1]
    try:
        async with client() as http:
            await http.get(f"http://127.0.0.1:{port}/")
            time.sleep(0.2)  # a busy loop: the FIN reaches the socket, no callback reads it
            answer = await http.get(f"http://127.0.0.1:{port}/")
    finally:
        server.join(5)
        listener.close()

    assert answer.content == b"ok"
    assert len(connections) == 2


async def test_a_pooled_connection_is_reused_when_its_descriptor_is_past_1023(app: App) -> None:
    """Thousands of connections are the normal case: the idle check must take any descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the open-file limit ({hard}) is too low to reach descriptor 1024")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        async with client() as http:
            ports = {(await http.get(f"{app.url}/echo")).json()["port"] for _ in range(3)}
        assert len(ports) == 1
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_a_refused_connection_is_a_connect_error_naming_the_address() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        async with client() as http:
            with pytest.raises(httpx.ConnectError, match=f"cannot connect to 127.0.0.1:{port}") as caught:
                await http.get(f"http://127.0.0.1:{port}/")

    assert caught.value.request.url.port == port


async def test_no_answer_within_the_read_timeout_is_a_read_timeout(app: App) -> None:
    async with client() as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"{app.url}/hold", timeout=0.2)


async def test_a_body_the_server_never_reads_is_a_write_timeout() -> None:
    done = asyncio.Event()

    async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()

    async with raw_server(never_reads) as port, client() as http:
        with pytest.raises(httpx.WriteTimeout):
            await http.post(f"http://127.0.0.1:{port}/", content=b"x" * 32 * 1024 * 1024, timeout=0.3)
        done.set()


@pytest.mark.parametrize(
    "answer",
    [b"", b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b"],
    ids=["before-the-head", "mid-body"],
)
async def test_a_server_closing_before_the_response_ends_is_a_protocol_error(answer: bytes) -> None:
    async def cut_short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)

    async with raw_server(cut_short) as port, client() as http:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_a_malformed_response_is_a_protocol_error() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 two hundred\r\n\r\n")
        await reader.read()

    async with raw_server(garbage) as port, client() as http:
        with pytest.raises(httpx.RemoteProtocolError, match="malformed"):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_a_large_body_is_read_from_the_socket_only_as_fast_as_it_is_consumed() -> None:
    size = 16 * 1024 * 1024  # more than loopback's socket buffers hold
    all_sent = asyncio.Event()

    async def large(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size + b"x" * size)
        await writer.drain()
        all_sent.set()
        await reader.read()

    received = 0
    async with (
        raw_server(large) as port,
        client() as http,
        http.stream("GET", f"http://127.0.0.1:{port}/") as answer,
    ):
        chunks = answer.aiter_raw()
        received += len(await anext(chunks))
        await asyncio.sleep(0.3)
        assert not all_sent.is_set()  # the client stopped reading: the server waits
        async for chunk in chunks:
            received += len(chunk)

    assert received == size
    assert all_sent.is_set()


async def test_a_request_waits_for_a_free_connection_up_to_the_pool_timeout(app: App) -> None:
    async with client(max_connections=2) as http:
        held = [asyncio.create_task(http.get(f"{app.url}/hold")) for _ in range(2)]
        while app.held < 2:
            await asyncio.sleep(0.01)
        with pytest.raises(httpx.PoolTimeout):
            await http.get(f"{app.url}/echo", timeout=httpx.Timeout(5, pool=0.2))
        waiting = asyncio.create_task(http.get(f"{app.url}/echo"))
        await asyncio.sleep(0.1)
        app.release.set()
        answers = await asyncio.gather(*held, waiting)

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert answers[2].json()["port"] in {answer.json()["port"] for answer in answers[:2]}


async def test_a_cancelled_request_frees_its_connection(app: App) -> None:
    async with client(max_connections=1) as http:
        held = asyncio.create_task(http.get(f"{app.url}/hold"))
        while app.held < 1:
            await asyncio.sleep(0.01)
        queued = asyncio.create_task(http.get(f"{app.url}/echo"))
        await asyncio.sleep(0.05)
        queued.cancel()  # gives up its place in line
        held.cancel()  # gives up its connection
        answer = await http.get(f"{app.url}/echo", timeout=httpx.Timeout(5, pool=1))

    assert answer.status_code == 200
    assert held.cancelled()
    assert queued.cancelled()


async def test_a_request_after_aclose_is_refused_clearly(app: App) -> None:
    transport = PooledTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        await http.get(f"{app.url}/echo")
    request = httpx.Request("GET", f"{app.url}/echo")

    with pytest.raises(RuntimeError, match="transport has been closed"):
        await transport.handle_async_request(request)


async def test_https_verifies_the_server_against_the_given_authority() -> None:
    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    authority.configure_trust(client_tls)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(OK)

    async with raw_server(answer, tls=server_tls) as port:
        async with httpx.AsyncClient(transport=PooledTransport(ssl_context=client_tls)) as http:
            answers = [await http.get(f"https://localhost:{port}/") for _ in range(2)]
        async with httpx.AsyncClient(transport=PooledTransport()) as http:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await http.get(f"https://localhost:{port}/")  # not signed by certifi's authorities

    assert [answer.content for answer in answers] == [b"ok", b"ok"]


async def test_500_requests_held_together_all_complete(app: App) -> None:
    async with client(max_connections=1000) as http, asyncio.timeout(5):
        answers = await asyncio.gather(*(http.get(f"{app.url}/hold?0.5") for _ in range(500)))

    assert [answer.status_code for answer in answers] == [200] * 500
    assert len({answer.json()["port"] for answer in answers}) == 500


async def test_connections_opened_together_share_one_lookup_of_the_host(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    lookups = []
    real_lookup = loop.getaddrinfo

    async def counted(host: Any, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        return await real_lookup(host, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", counted)
    url = app.url.replace("127.0.0.1", "localhost")
    async with client() as http:
        answers = await asyncio.gather(*(http.get(f"{url}/hold?0.1") for _ in range(20)))

    assert len({answer.json()["port"] for answer in answers}) == 20
    assert lookups == ["localhost"]


async def test_a_failed_lookup_is_a_connect_error_and_is_not_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lookups = []

    async def unknown(host: Any, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", unknown)
    async with client() as http:
        for _ in range(2):
            with pytest.raises(httpx.ConnectError, match=r"cannot connect to nowhere\.test:80: .*not known"):
                await http.get("http://nowhere.test/")

    assert lookups == ["nowhere.test", "nowhere.test"]
