"""`PooledTransport`: HTTP/1.1 under httpx's API, on asyncio protocols and httptools' parser.

Every outgoing call of botkit (model calls and their SSE streams, Chat REST calls) goes through
it. It does what those need and no more: keep-alive connections pooled per origin, a bound on open
connections with a first-come first-served wait for one, httpx's four timeouts, bodies streamed
both ways. No HTTP/2, no proxies, and no retries: a POST is never sent twice.

A request finds its connection with a dict lookup and a deque pop, goes out in one write when its
body is bytes, and its answer is parsed by httptools' callbacks as it arrives. A request waiting
for a connection is a future in a queue, handed a connection (or the slot of a closed one) by the
request that finishes: thousands waiting cost no more each than one, where httpcore scans its
waiters on every change (encode/httpx#3215). New connections to one host share its DNS lookup.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import select
import socket
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import cast

import certifi
import httptools
import httpx

Origin = tuple[str, str, int]
RawHeaders = list[tuple[bytes, bytes]]

MAX_BUFFERED = 64 * 1024
"""Bytes of a response body held unread before the connection stops reading from its socket."""
DEFAULT_PORTS = {"http": 80, "https": 443}
DNS_SECONDS = 10.0
"""How long a host's addresses serve new connections before it is looked up again (aiohttp's
default): a burst of connections to the model's host costs one lookup, not one each on a thread."""


class PooledTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 connections pooled per origin, at most `limits.max_connections` open at once.

    An idle connection is reused last in, first out, unless it has been idle for longer than
    `limits.keepalive_expiry` or the server has closed it. When every connection is busy, a request
    waits its turn up to its pool timeout. https verifies against certifi's CA bundle, as httpx
    does, unless `ssl_context` is given (e.g. a test's own authority).
    """

    def __init__(
        self, limits: httpx.Limits | None = None, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        limits = limits or httpx.Limits()
        self._max_open = _bound(limits.max_connections)
        self._max_idle = _bound(limits.max_keepalive_connections)
        self._keepalive = _bound(limits.keepalive_expiry)
        self._ssl = ssl_context
        self._open = 0  # connections open or being opened: each holds a slot of max_open
        self._connections: set[_Connection] = set()
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._idle_count = 0
        self._dns: dict[str, tuple[float, asyncio.Future[list[str]]]] = {}
        # Only while no connection is idle: a connection let go goes to the first of these.
        self._waiters: deque[tuple[Origin, asyncio.Future[_Connection | None]]] = deque()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        connection = await self._checkout(request, timeouts.get("pool"), timeouts.get("connect"))
        try:
            await connection.send(request, timeouts.get("write"))
            status, headers = await connection.receive_head(timeouts.get("read"))
        except BaseException:
            self._checkin(connection)
            raise
        body = _ResponseBody(self, connection, timeouts.get("read"))
        return httpx.Response(status, headers=headers, stream=body, extensions={"http_version": b"HTTP/1.1"})

    async def aclose(self) -> None:
        """Close every connection, busy or idle; requests still waiting for one fail."""
        self._closed = True
        for connection in self._connections:
            connection.close()
        self._connections.clear()
        self._idle.clear()
        self._idle_count = 0
        while self._waiters:
            _, turn = self._waiters.popleft()
            if not turn.done():
                turn.set_exception(RuntimeError("the HTTP transport was closed"))

    async def _checkout(
        self, request: httpx.Request, pool_timeout: float | None, connect_timeout: float | None
    ) -> _Connection:
        if self._closed:
            raise RuntimeError("cannot send a request: the HTTP transport has been closed")
        url = request.url
        if url.scheme not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"cannot send {url.scheme!r} requests", request=request)
        origin = (url.scheme, url.host, url.port or DEFAULT_PORTS[url.scheme])
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if now - connection.idle_since < self._keepalive and connection.quiet():
                return connection
            self._discard(connection)
        if self._open >= self._max_open and self._idle_count:
            self._evict_idle()
        if self._open < self._max_open:
            self._open += 1
        else:
            handed = await self._wait_turn(origin, request, pool_timeout)
            if handed is not None and not handed.closing:
                return handed
            if handed is not None:
                self._close(handed)  # the server closed it while it was on its way: keep its slot
        try:
            return await self._connect(origin, request, connect_timeout)
        except BaseException:
            self._hand_on(None)
            raise

    async def _wait_turn(
        self, origin: Origin, request: httpx.Request, timeout: float | None
    ) -> _Connection | None:
        """Wait in line for a connection to `origin`, or for the slot of a closed one (None)."""
        turn: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append((origin, turn))
        try:
            async with asyncio.timeout(timeout):
                return await turn
        except BaseException as exc:
            if turn.done() and not turn.cancelled() and turn.exception() is None:
                self._hand_on(turn.result())  # handed over just as this request gave up: pass it on
            if isinstance(exc, TimeoutError):
                raise httpx.PoolTimeout(f"no connection free within {timeout} s", request=request) from exc
            raise

    async def _connect(self, origin: Origin, request: httpx.Request, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        tls = self._tls() if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                *others, last = await self._addresses(host)
                for address in others:
                    with contextlib.suppress(OSError):  # the next address may answer
                        connection = await self._open_at(origin, address, tls)
                        break
                else:
                    connection = await self._open_at(origin, last, tls)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}", request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}", request=request) from exc
        self._connections.add(connection)
        return connection

    async def _open_at(self, origin: Origin, address: str, tls: ssl.SSLContext | None) -> _Connection:
        loop = asyncio.get_running_loop()
        host = origin[1] if tls else None  # for SNI and the certificate's check
        _, connection = await loop.create_connection(
            lambda: _Connection(origin, loop), address, origin[2], ssl=tls, server_hostname=host
        )
        return connection

    async def _addresses(self, host: str) -> list[str]:
        """`host`'s addresses, looked up at most once per DNS_SECONDS; connections opened meanwhile
        share the lookup."""
        expires, lookup = self._dns.get(host, (0.0, None))
        if lookup is None or expires < time.monotonic() or (lookup.done() and lookup.exception()):
            lookup = asyncio.ensure_future(_lookup(host))
            self._dns[host] = (time.monotonic() + DNS_SECONDS, lookup)
        return await asyncio.shield(lookup)

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:  # made on first use: loading the CA bundle takes ~30 ms
            self._ssl = ssl.create_default_context(cafile=certifi.where())
        return self._ssl

    def _checkin(self, connection: _Connection) -> None:
        """A request is done with `connection`: reuse it if its response was read to the end."""
        if connection.reusable:
            self._hand_on(connection)
        else:
            self._discard(connection)

    def _hand_on(self, connection: _Connection | None) -> None:
        """Pass a connection (None: the slot of one closed) to the first request waiting, or keep it
        idle."""
        while self._waiters:
            origin, turn = self._waiters.popleft()
            if turn.done():
                continue  # it timed out or was cancelled
            if connection is not None and connection.origin != origin:
                self._close(connection)
                connection = None
            turn.set_result(connection)
            return
        if connection is None:
            self._open -= 1
        elif self._idle_count < self._max_idle and not self._closed:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(connection.origin, deque()).append(connection)
            self._idle_count += 1
        else:
            self._discard(connection)

    def _evict_idle(self) -> None:
        """Close the oldest idle connection of some origin, to open one elsewhere."""
        for idle in self._idle.values():  # one deque per origin ever used: a handful
            if idle:
                self._idle_count -= 1
                self._discard(idle.popleft())
                return

    def _discard(self, connection: _Connection) -> None:
        self._close(connection)
        self._hand_on(None)

    def _close(self, connection: _Connection) -> None:
        connection.close()
        self._connections.discard(connection)


class _ResponseBody(httpx.AsyncByteStream):
    """A response's body as it arrives; closing it checks its connection back in (closed if the
    body was not read to its end)."""

    def __init__(self, pool: PooledTransport, connection: _Connection, read_timeout: float | None) -> None:
        self._pool = pool
        self._connection = connection
        self._read_timeout = read_timeout
        self._checked_in = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := await self._connection.receive_body(self._read_timeout):
            yield chunk

    async def aclose(self) -> None:
        if not self._checked_in:
            self._checked_in = True
            self._pool._checkin(self._connection)


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: writes a request, then parses its response as the bytes arrive.

    httptools calls the `on_*` methods from `data_received`; what they collect waits for the
    request's task in `receive_head` and `receive_body`, which `_wake` rouses.
    """

    def __init__(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> None:
        self.origin = origin
        self.idle_since = 0.0
        self._loop = loop
        self._transport: asyncio.Transport
        self._parser: httptools.HttpResponseParser
        self._lost = False
        self._request: httpx.Request | None = None
        self._head_only = False
        self._status = 0  # of the response; 0 until its head is in
        self._headers: RawHeaders = []
        self._body: list[bytes] = []
        self._buffered = 0
        self._reading_paused = False
        self._complete = True  # no response is expected before a request
        self._keep_alive = False
        self._error: httpx.TransportError | None = None
        self._woken: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None  # while the socket's send buffer is full

    @property
    def closing(self) -> bool:
        return self._lost or self._transport.is_closing()

    def quiet(self) -> bool:
        """Whether an idle connection can take a request: open, and nothing waiting in its socket.
        Anything readable on an idle connection is the server's close that the event loop has not
        read yet (it was busy), or bytes no request asked for: either way it is not reused, as
        httpcore checks too. One `poll` of the socket, no wait (not `select`, which cannot take a
        descriptor past 1,023); a socket that cannot be polled is not reused either."""
        if self.closing:
            return False
        sock = self._transport.get_extra_info("socket")
        if sock is None:
            return True
        poller = select.poll()
        try:
            poller.register(sock.fileno(), select.POLLIN)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False

    @property
    def reusable(self) -> bool:
        return self._complete and self._keep_alive and not self.closing

    def close(self) -> None:
        self._transport.abort()  # done with or broken: no TLS goodbye keeps the socket open

    async def send(self, request: httpx.Request, write_timeout: float | None) -> None:
        """Write `request`: in one write if its body is bytes, else streamed (chunked if its length
        is not given)."""
        if self.closing:
            raise httpx.RemoteProtocolError("the server closed the connection", request=request)
        self._request = request
        self._head_only = request.method == "HEAD"
        self._parser = httptools.HttpResponseParser(self)
        self._status, self._headers, self._complete, self._keep_alive = 0, [], False, False
        self._body.clear()
        self._buffered = 0
        lines = [b"%s %s HTTP/1.1\r\n" % (request.method.encode(), request.url.raw_path)]
        lines += [b"%s: %s\r\n" % header for header in request.headers.raw]
        stream = request.stream
        if isinstance(stream, httpx.ByteStream):
            self._transport.write(b"".join([*lines, b"\r\n", *stream]))
            await self._drain(write_timeout)
            return
        assert isinstance(stream, httpx.AsyncByteStream)
        chunked = "transfer-encoding" in request.headers
        if not chunked and "content-length" not in request.headers:
            lines.append(b"Transfer-Encoding: chunked\r\n")
            chunked = True
        self._transport.write(b"".join([*lines, b"\r\n"]))
        async for chunk in stream:
            if chunk:
                self._transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                await self._drain(write_timeout)
        if chunked:
            self._transport.write(b"0\r\n\r\n")
        await self._drain(write_timeout)

    async def receive_head(self, read_timeout: float | None) -> tuple[int, RawHeaders]:
        while not self._status:
            await self._wait(read_timeout)
        return self._status, self._headers

    async def receive_body(self, read_timeout: float | None) -> bytes:
        """The body received since the last call, waiting for some if none is; b"" at its end."""
        while not self._body and not self._complete:
            await self._wait(read_timeout)
        chunk = b"".join(self._body)
        self._body.clear()
        self._buffered = 0
        self._resume_reading()
        return chunk

    async def _drain(self, timeout: float | None) -> None:
        if self._drained is not None:
            await self._within(self._drained, timeout, httpx.WriteTimeout, "could not send the request")

    async def _wait(self, timeout: float | None) -> None:
        if self._error is not None:
            raise self._error
        self._woken = self._loop.create_future()
        await self._within(self._woken, timeout, httpx.ReadTimeout, "no answer from the server")

    async def _within(
        self,
        event: asyncio.Future[None],
        timeout: float | None,
        error: type[httpx.TimeoutException],
        what: str,
    ) -> None:
        """Wait for `event` up to `timeout` seconds, else raise `error` saying `what` did not happen."""
        try:
            async with asyncio.timeout(timeout):
                await event
        except TimeoutError as exc:
            raise error(f"{what} within {timeout} s", request=self._request) from exc

    def _wake(self) -> None:
        if self._woken is not None:
            if not self._woken.done():
                self._woken.set_result(None)
            self._woken = None

    def _resume_reading(self) -> None:
        if self._reading_paused:
            self._reading_paused = False
            self._transport.resume_reading()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._parser = httptools.HttpResponseParser(self)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._error = self._error or httpx.RemoteProtocolError(
                f"malformed response: {exc}", request=self._request
            )
            self.close()  # connection_lost wakes the reader

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.resume_writing()
        if not (self._complete or self._error):
            if self._status and exc is None and self._ends_at_close():
                self._complete = True
            elif isinstance(exc, OSError):
                self._error = httpx.ReadError(f"connection lost: {exc}", request=self._request)
            else:
                answered = "before the response ended" if self._status else "without answering"
                self._error = httpx.RemoteProtocolError(
                    f"the server closed the connection {answered}", request=self._request
                )
        self._wake()

    def pause_writing(self) -> None:
        self._drained = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    def _ends_at_close(self) -> bool:
        """Whether the response's body runs to the end of the connection (no length, not chunked)."""
        return not any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in self._headers)

    # httptools.HttpResponseParser

    def on_message_begin(self) -> None:
        if self._complete:
            raise httptools.HttpParserError("data after the response")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # 100 Continue, 103 Early Hints: the response follows
            self._headers = []
            return
        self._status = status
        if self._head_only:
            self.on_message_complete()  # a length in a HEAD response's head announces no body
        self._wake()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)
        self._buffered += len(body)
        if self._buffered > MAX_BUFFERED and not self._reading_paused:
            self._reading_paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._status and not self._complete:  # not an informational response's end, once for HEAD
            self._complete = True
            self._keep_alive = self._parser.should_keep_alive()
            self._resume_reading()  # a pooled connection must hear its next response
            self._wake()


async def _lookup(host: str) -> list[str]:
    found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(address[0]) for *_, address in found]


def _bound(limit: float | None) -> float:
    return math.inf if limit is None else limit
