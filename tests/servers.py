"""Serve an ASGI app on a free loopback port from a thread, for tests that need a real socket."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from botkit.lab.waiting import wait_until

START_SECONDS = 30.0


@contextmanager
def serve_in_thread(app: ASGIApp) -> Iterator[str]:
    """Run `app` under uvicorn in a daemon thread; yields its base URL and stops it on exit."""
    listener = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()

    def alive() -> None:
        if not thread.is_alive():
            raise RuntimeError("the server thread ended before the server started")

    try:
        wait_until(
            lambda: server.started, timeout=START_SECONDS, failure="the server did not start", check=alive
        )
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(START_SECONDS)
        listener.close()
