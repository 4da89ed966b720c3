"""`botkit serve`'s server limits: the open-file limit, the read timeout and the connection cap.

The acceptance check runs `botkit serve` as a child with a 1,024-descriptor limit (soft and hard,
so raising it cannot help), holds 1,200 idle sockets on it and keeps posting good callbacks
between forged ones.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from botkit.callbacks import ACK_BODY
from botkit.cli import cli
from botkit.lab.processes import free_port
from botkit.lab.waiting import wait_until
from botkit.serving import ConnectionGuard, GuardedConfig, connection_cap
from sandbox.state import SandboxState
from tests.sandbox.test_cross_process import QueryRecorder, rest_api  # noqa: F401  # rest_api: a fixture
from tests.support import KEY, SDKAPPID, TOKEN, c2c_body, callback_url

DEADLINE_SECONDS = 30.0
CHILD_FD_LIMIT = 1024
IDLE_SOCKETS = 1200
ROUNDS = 20


@pytest.mark.parametrize(
    ("max_connections", "fd_limit", "cap"),
    [(1000, 1_048_576, 1000), (1000, 1024, 824), (1000, 256, 128), (50, 1024, 50)],
)
def test_the_connection_cap_stays_under_the_open_file_limit(
    max_connections: int, fd_limit: int, cap: int
) -> None:
    assert connection_cap(max_connections, fd_limit) == cap


def test_serve_raises_the_soft_open_file_limit_to_the_hard_one() -> None:
    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 1024))

    code = (
        "import resource; from botkit.serving import raise_fd_limit; "
        "print(raise_fd_limit(), resource.getrlimit(resource.RLIMIT_NOFILE))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, preexec_fn=lower
    )

    assert result.stdout.strip() == "1024 (1024, 1024)"


def test_tune_gc_freezes_what_start_up_made_and_collects_the_young_less_often() -> None:
    code = (
        "import gc; from botkit.serving import tune_gc; "
        "tune_gc(); print(gc.get_freeze_count() > 0, gc.get_threshold())"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "True (10000, 10, 10)"


# -- the guards, on a small app in this process ------------------------------------------------


async def hello(request: Request) -> PlainTextResponse:
    await request.body()
    return PlainTextResponse("hello")


@pytest.fixture
def guarded() -> Iterator[tuple[int, ConnectionGuard]]:
    """A Starlette app under uvicorn in a thread, guarded with a 3-connection cap and a 0.3 s read timeout."""
    guard = ConnectionGuard(cap=3, read_timeout=0.3)
    app = Starlette(routes=[Route("/", hello, methods=["GET", "POST"])])
    listener = socket.create_server(("127.0.0.1", 0))
    config = GuardedConfig(app, guard=guard, log_level="warning", access_log=False, log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=DEADLINE_SECONDS, failure="the server did not start")
    yield listener.getsockname()[1], guard
    server.should_exit = True
    thread.join(DEADLINE_SECONDS)
    listener.close()


def closed_by_server(sock: socket.socket, timeout: float = 5.0) -> bool:
    """Read until the server closes the connection (True) or `timeout` passes (False)."""
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


@pytest.mark.parametrize(
    "sent",
    [
        b"",
        b"POST / HTTP/1.1\r\nHost: bot\r\nContent-Le",
        b"POST / HTTP/1.1\r\nHost: bot\r\nContent-Length: 10\r\n\r\n12345",
        b"GET / HTTP/1.1\r\nHost: bot\r\n\r\nGET / HTTP/1.1\r\nHo",
    ],
    ids=["nothing", "half-a-header", "half-a-body", "half-a-second-request"],
)
def test_a_connection_that_sends_no_complete_request_is_closed_after_the_read_timeout(
    guarded: tuple[int, ConnectionGuard], sent: bytes
) -> None:
    port, _ = guarded
    started = time.monotonic()  # before connecting: the server's timer starts when it accepts
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(sent)

        assert closed_by_server(sock)
        assert time.monotonic() - started >= 0.3


def test_at_the_cap_a_new_connection_closes_the_one_idle_longest(
    guarded: tuple[int, ConnectionGuard],
) -> None:
    port, guard = guarded
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        with httpx.Client(trust_env=False, timeout=5) as http:
            response = http.get(f"http://127.0.0.1:{port}/")

        assert (response.status_code, response.text) == (200, "hello")
        assert closed_by_server(idle[0], timeout=2.0)
        assert not closed_by_server(idle[2], timeout=0.05)
        assert len(guard) <= 3
    finally:
        for sock in idle:
            sock.close()


# -- acceptance: 1,200 idle sockets against `botkit serve` with 1,024 descriptors --------------


def _child_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (CHILD_FD_LIMIT, CHILD_FD_LIMIT))


@pytest.fixture
def enough_descriptors() -> Iterator[None]:
    """This test process holds ~1,700 sockets: raise its soft limit for the test (or skip)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = IDLE_SOCKETS + ROUNDS * 20 + 200
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the test needs {needed} open files; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.slow
def test_botkit_serve_keeps_acking_good_callbacks_with_1200_idle_sockets_and_1024_descriptors(
    enough_descriptors: None,
    rest_api: tuple[str, QueryRecorder, SandboxState],  # noqa: F811  # the fixture imported above
    tmp_path: Path,
) -> None:
    api_base, recorder, _ = rest_api
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("BOTKIT_")} | {
        "BOTKIT_SDKAPPID": str(SDKAPPID),
        "BOTKIT_KEY": KEY,
        "BOTKIT_CALLBACK_TOKEN": TOKEN,
        "BOTKIT_API_BASE": api_base,
        "BOTKIT_LLM": "echo",
        "BOTKIT_STORE": f"sqlite:///{tmp_path / 'bot.db'}",
    }
    log_path = tmp_path / "serve.log"
    idle: list[socket.socket] = []
    with log_path.open("w") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "botkit", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_child_fd_limit,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(child, base, log_path)
        idle += _open_idle(port, IDLE_SOCKETS)
        acks: list[tuple[int, float]] = []
        with httpx.Client(
            trust_env=False, timeout=5, limits=httpx.Limits(max_keepalive_connections=0)
        ) as http:
            for seq in range(1, ROUNDS + 1):
                idle += _open_idle(port, 20)
                for _ in range(10):
                    forged = http.post(base + callback_url("Bot.OnC2CMessage", token="forged"), content=b"{}")
                    assert forged.status_code == 403
                started = time.perf_counter()
                response = http.post(base + callback_url("Bot.OnC2CMessage"), content=c2c_body("hi", seq=seq))
                acks.append((response.status_code, time.perf_counter() - started))
                assert response.json() == ACK_BODY
        wait_until(
            lambda: len(recorder.sendmsg_queries()) >= ROUNDS,
            timeout=DEADLINE_SECONDS,
            failure=f"not all {ROUNDS} replies were sent",
        )
    finally:
        for sock in idle:
            sock.close()
        child.terminate()
        child.wait(DEADLINE_SECONDS)

    output = log_path.read_text()
    assert [status for status, _ in acks] == [200] * ROUNDS, output
    assert max(seconds for _, seconds in acks) < 2.0, acks
    assert "Traceback" not in output, output
    assert "serving up to 824 connections (open-file limit 1024)" in output
    assert output.count("at the cap of 824 connections") <= 2, output  # one line per 10 s
    assert output.count("refused callback from") <= 2, output  # 200 forged callbacks
    assert len(output.splitlines()) < 60, output


def _wait_until_healthy(child: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
    def running() -> None:
        assert child.poll() is None, f"botkit serve exited with {child.returncode}:\n{log_path.read_text()}"

    def healthy() -> bool:
        try:
            return httpx.get(base + "/healthz", trust_env=False).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(
        healthy,
        timeout=DEADLINE_SECONDS,
        failure="botkit serve did not start",
        check=running,
        explain=lambda: f":\n{log_path.read_text()}",
    )


def _open_idle(port: int, count: int) -> list[socket.socket]:
    """`count` connections that never send a byte (the server may close them; that is the point)."""
    return [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]


def test_serve_names_its_limit_options_and_checks_them_as_settings() -> None:
    runner = CliRunner()
    shown = runner.invoke(cli, ["serve", "--help"])
    refused = runner.invoke(
        cli, ["serve", "--read-timeout", "0"], env={"BOTKIT_SDKAPPID": "1", "BOTKIT_KEY": "k"}
    )

    for option in ("--max-connections", "--read-timeout", "--keep-alive-timeout", "--backlog"):
        assert option in shown.output
    assert refused.exit_code == 1
    assert "BOTKIT_READ_TIMEOUT: Input should be greater than 0" in refused.output
