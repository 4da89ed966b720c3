"""A real redis-server on a free loopback port for the session; test modules load it as a pytest plugin.

Tests that need it skip, saying why, when redis-server or the redis package is missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from botkit.lab.processes import ChildProcess, free_port

START_DEADLINE_SECONDS = 10.0


def _answers_ping(port: int) -> bool:
    import redis

    with redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5) as client:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """`redis://127.0.0.1:<port>/0` of a throwaway server that keeps nothing on disk."""
    pytest.importorskip("redis", reason="the redis package is missing: pip install 'botkit[redis]'")
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server); Redis store tests skipped")
    port = free_port()
    command = [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = ChildProcess("redis-server", [*command, "--loglevel", "warning"])
    server.start()
    try:
        server.wait_until(
            lambda: _answers_ping(port),
            timeout=START_DEADLINE_SECONDS,
            failure="redis-server did not answer PING",
        )
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.stop(timeout=10)


@pytest.fixture
def fresh_redis(redis_url: str) -> str:
    """The session server's URL, emptied (FLUSHDB) for this test."""
    import redis

    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    return redis_url
