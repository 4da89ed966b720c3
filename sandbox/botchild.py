"""`botkit serve` as a child process of the sandbox: its output forwarded, its death reported.

The sandbox reaches the bot over HTTP only, as Tencent does, so the bot runs exactly as deployed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping

import httpx

from botkit.lab.processes import ChildExited, ChildProcess

OUTPUT_PREFIX = "bot | "
CALLBACK_PATH = "/im"
HEALTH_PATH = "/healthz"
READY_TIMEOUT = 60.0


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


class BotChild:
    """`python -m botkit serve --host HOST --port PORT [BOT]`, with `env` added to this process's environment;
    each output line goes to `out` and to `log_lines()` (for the UI's bot tab).

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
        bot: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._out = out
        self._stopping = stopping
        self._child = ChildProcess(
            "the bot (botkit serve)",
            [sys.executable, "-m", "botkit", "serve", "--host", host, "--port", str(port)]
            + ([bot] if bot else []),
            env=dict(env) | {"BOTKIT_CALLBACK_PATH": CALLBACK_PATH},
            on_line=lambda line: out(OUTPUT_PREFIX + line),
            on_exit=self._exited,
        )
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
        return self._child.pid

    @property
    def exit_code(self) -> int | None:
        """None while it runs (or before it started)."""
        return self._child.exit_code

    @property
    def running(self) -> bool:
        return self._child.running

    def start(self) -> None:
        self._child.start()

    def log_lines(self) -> list[str]:
        """What the bot printed lately, oldest first."""
        return self._child.lines()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> str | None:
        """Block until the bot answers its health check; None then, else why it never will."""
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            try:
                health = self._child.wait_until(
                    lambda: _healthy(http, self.url + HEALTH_PATH),
                    timeout=timeout,
                    failure=f"the bot (botkit serve) did not answer {self.url}{HEALTH_PATH}",
                )
            except ChildExited:
                return f"the bot (botkit serve) exited with code {self.exit_code} before it was ready"
            except TimeoutError:
                return f"the bot (botkit serve) did not answer {self.url}{HEALTH_PATH} within {timeout:g} s"
        self.answering_with = model_named(health)
        self.ready = True
        return None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (uvicorn then shuts down cleanly), SIGKILL after `timeout` seconds."""
        self._child.stop(timeout)

    def _exited(self, code: int) -> None:
        if self._stopping():
            return
        self._out(
            f"sandbox: the bot (botkit serve, pid {self.pid}) exited with code {code}; "
            f"callbacks to {self.webhook_url} will fail. Its output is above; fix it and restart "
            "the sandbox, or run your own bot and pass --webhook-url."
        )


def _healthy(http: httpx.Client, url: str) -> httpx.Response | None:
    """The health check's answer once it is 200; None while the bot does not listen or is not ready."""
    try:
        response = http.get(url)
    except httpx.TransportError:
        return None
    return response if response.status_code == 200 else None
