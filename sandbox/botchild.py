"""`botkit serve` as a child process of the sandbox: its output forwarded, its death reported.

The sandbox reaches the bot over HTTP only, as Tencent does, so the bot runs exactly as deployed.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

import httpx

OUTPUT_PREFIX = "bot | "
CALLBACK_PATH = "/im"
HEALTH_PATH = "/healthz"
READY_TIMEOUT = 60.0
POLL_SECONDS = 0.1
LOG_LINES = 500


def model_named(health: httpx.Response) -> str | None:
    """ "local (SmolLM2-…)" from the bot's `/healthz` answer; None when it does not say."""
    try:
        body = health.json()
    except ValueError:
        return None
    llm, model = body.get("llm"), body.get("model")
    if not isinstance(llm, str):
        return None
    return f"{llm} ({model})" if isinstance(model, str) and model else llm


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (another process could still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class BotChild:
    """`python -m botkit serve --host HOST --port PORT` with `env`; each output line goes to `out`
    and to `log_lines()` (the last `LOG_LINES`, for the UI's bot tab).

    `stopping` tells whether the parent is shutting down anyway (a Ctrl-C reaches both processes),
    so only an unexpected exit is reported as one.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        port: int,
        host: str = "127.0.0.1",
        out: Callable[[str], None],
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self._env = dict(env)
        self.host = host
        self.port = port
        self._out = out
        self._stopping = stopping
        self._stopped = False
        self._process: subprocess.Popen[str] | None = None
        self._forwarder: threading.Thread | None = None
        self._log: deque[str] = deque(maxlen=LOG_LINES)
        self.ready = False
        self.answering_with: str | None = None
        """Which model answers, as the bot's health check names it (once it is ready)."""

    def __repr__(self) -> str:
        return f"BotChild(url={self.url!r}, pid={self.pid})"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def webhook_url(self) -> str:
        return self.url + CALLBACK_PATH

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def exit_code(self) -> int | None:
        """None while it runs (or before it started)."""
        return self._process.poll() if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        command = [sys.executable, "-m", "botkit", "serve", "--host", self.host, "--port", str(self.port)]
        self._process = subprocess.Popen(
            command,
            env=self._env | {"BOTKIT_CALLBACK_PATH": CALLBACK_PATH, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._forwarder = threading.Thread(
            target=self._forward, args=(self._process,), name="botkit-serve-output", daemon=True
        )
        self._forwarder.start()

    def log_lines(self) -> list[str]:
        """What the bot printed lately, oldest first."""
        return list(self._log)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> str | None:
        """Block until the bot answers its health check; None then, else why it never will."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while time.monotonic() < deadline:
                code = self.exit_code
                if code is not None:
                    return f"the bot (botkit serve) exited with code {code} before it was ready"
                try:
                    health = http.get(self.url + HEALTH_PATH)
                except httpx.TransportError:
                    health = None
                if health is not None and health.status_code == 200:
                    self.answering_with = model_named(health)
                    self.ready = True
                    return None
                time.sleep(POLL_SECONDS)
        return f"the bot (botkit serve) did not answer {self.url}{HEALTH_PATH} within {timeout:g} s"

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (uvicorn then shuts down cleanly), SIGKILL after `timeout` seconds."""
        self._stopped = True
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._forwarder is not None:
            self._forwarder.join(timeout)

    def _forward(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None, "started with stdout=PIPE"
        with process.stdout:
            for line in process.stdout:
                self._log.append(line.rstrip("\n"))
                self._out(OUTPUT_PREFIX + line.rstrip("\n"))
        code = process.wait()
        if not self._stopped and not self._stopping():
            self._out(
                f"sandbox: the bot (botkit serve, pid {process.pid}) exited with code {code}; "
                f"callbacks to {self.webhook_url} will fail. Its output is above; fix it and restart "
                "the sandbox, or run your own bot and pass --webhook-url."
            )
