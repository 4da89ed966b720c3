"""`botkit serve`'s HTTP server: uvicorn with limits, so idle or slow sockets cannot stop good callbacks.

uvicorn closes a keep-alive connection that stays idle after a response, but keeps a connection
that never completes a request for ever, and its `limit_concurrency` counts such idle connections,
so it would answer good callbacks 503 once enough of them pile up. botkit adds two guards to
uvicorn's HTTP protocol instead (httptools when installed, as with `uvicorn[standard]`, else h11):
a read timeout, from the moment a connection waits for a request until that request has fully
arrived, and a connection cap under the fd limit that, when reached, closes the connection that
has waited longest with no request in progress, so a new one (a good callback, most likely) gets
in rather than the process running out of descriptors.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import resource
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from botkit.config import Settings

log = logging.getLogger("botkit.serving")

FD_HEADROOM = 200
"""Descriptors kept free of connections: the store's files, the REST and model client pool (httpx
keeps up to 100), the event loop, and sockets accepted in one burst before the cap can act."""
GC_YOUNG_THRESHOLD = 10_000
"""Container allocations between collections of the youngest generation (CPython's default: 700).
Each callback and answer allocates hundreds (tasks, futures, models, rows), so at the default the
collector ran every few messages and, every tenth time, walked all that had survived."""


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int
    read_timeout: float
    keep_alive_timeout: int
    backlog: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerLimits:
        return cls(
            max_connections=settings.max_connections,
            read_timeout=settings.read_timeout,
            keep_alive_timeout=settings.keep_alive_timeout,
            backlog=settings.backlog,
        )


def raise_fd_limit() -> int:
    """Raise the soft limit on open files to the hard one (often 1,024 against 1,048,576); the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            log.warning("cannot raise the open-file limit from %d to %d", soft, hard)
            return soft
        return hard
    return soft


def tune_gc() -> None:
    """Collect once and freeze what start-up made (modules, classes, pydantic schemas, the app), so
    no later collection walks it again; collect the youngest generation less often."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, oldest)


def connection_cap(max_connections: int, fd_limit: int) -> int:
    """At most `max_connections`, and always some descriptors short of the open-file limit."""
    return max(1, min(max_connections, max(fd_limit - FD_HEADROOM, fd_limit // 2)))


class ConnectionGuard:
    """The open connections of one server, each with the time it began waiting for a request."""

    def __init__(self, *, cap: int, read_timeout: float) -> None:
        self.cap = cap
        self.read_timeout = read_timeout
        self._waiting_since: dict[GuardedProtocol, float] = {}

    def __len__(self) -> int:
        return len(self._waiting_since)

    def admit(self, connection: GuardedProtocol, now: float) -> bool:
        """Take a new connection, closing the longest-idle one at the cap; False when all are busy."""
        if len(self._waiting_since) >= self.cap:
            idle = [c for c in self._waiting_since if not c.busy]
            if not idle:
                log.warning("refused a connection: all %d connections have a request in progress", self.cap)
                return False
            oldest = min(idle, key=self._waiting_since.__getitem__)
            log.warning("at the cap of %d connections: closed the one idle longest for a new one", self.cap)
            self.release(oldest)
            oldest.transport.close()
        self._waiting_since[connection] = now
        return True

    def waiting(self, connection: GuardedProtocol, now: float) -> None:
        if connection in self._waiting_since:
            self._waiting_since[connection] = now

    def release(self, connection: GuardedProtocol) -> None:
        self._waiting_since.pop(connection, None)


class GuardedConfig(uvicorn.Config):
    """uvicorn's Config carrying the server's `ConnectionGuard` to each connection's protocol."""

    def __init__(self, app: Any, *, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(app, http=guarded_protocol(), **kwargs)
        self.guard = guard


class GuardedProtocol:
    """Mixed into one of uvicorn's HTTP protocols: a read timeout and the connection cap."""

    cycle: Any
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)  # type: ignore[call-arg]
        assert isinstance(config, GuardedConfig), "GuardedConfig is what selects this protocol"
        self._guard = config.guard
        self._read_timer: asyncio.TimerHandle | None = None

    @property
    def busy(self) -> bool:
        """A request has fully arrived and its response is not complete: the app is working on it."""
        cycle = self.cycle
        return cycle is not None and not cycle.more_body and not cycle.response_complete

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        if not self._guard.admit(self, self.loop.time()):
            transport.close()
            return
        self._wait_for_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard.release(self)
        if self._read_timer is not None:
            self._read_timer.cancel()
        super().connection_lost(exc)  # type: ignore[misc]

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing():
            self._wait_for_request()

    def _wait_for_request(self) -> None:
        self._guard.waiting(self, self.loop.time())
        if self._read_timer is not None:
            self._read_timer.cancel()
        self._read_timer = self.loop.call_later(self._guard.read_timeout, self._read_timed_out)

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.busy or self.transport.is_closing():
            return
        log.warning("closed a connection that sent no complete request within %g s", self._guard.read_timeout)
        self.transport.close()


class GuardedH11Protocol(GuardedProtocol, H11Protocol):
    """uvicorn's pure-Python h11 protocol, guarded."""


def guarded_protocol() -> type[asyncio.Protocol]:
    """The guarded httptools protocol when httptools is installed (several times faster), else h11."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return GuardedH11Protocol

    class GuardedHttpToolsProtocol(GuardedProtocol, HttpToolsProtocol):
        """uvicorn's httptools protocol, guarded."""

    return GuardedHttpToolsProtocol


def serve(app: Any, *, host: str, port: int, limits: ServerLimits, log_level: str) -> None:
    """Run `app` until SIGINT or SIGTERM, with the open-file limit raised, the guards on and the
    garbage collector tuned for a long-running server (`tune_gc`)."""
    fd_limit = raise_fd_limit()
    guard = ConnectionGuard(
        cap=connection_cap(limits.max_connections, fd_limit), read_timeout=limits.read_timeout
    )
    log.info(
        "serving up to %d connections (open-file limit %d); %g s to send a request, %d s idle keep-alive",
        guard.cap,
        fd_limit,
        limits.read_timeout,
        limits.keep_alive_timeout,
    )
    config = GuardedConfig(
        app,
        guard=guard,
        host=host,
        port=port,
        backlog=limits.backlog,
        timeout_keep_alive=limits.keep_alive_timeout,
        log_level=log_level.lower(),
        log_config=None,  # uvicorn's lines go through botkit's handlers, so BOTKIT_LOG_FORMAT applies
        access_log=False,  # callback URLs carry Sign/RequestTime and REST-style query strings
    )
    tune_gc()
    uvicorn.Server(config).run()
