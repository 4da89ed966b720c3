"""`SandboxProcess`: `python -m sandbox` and the bot it starts, as a child process of a notebook or a test.

botkit never imports the sandbox: this starts it as `botkit sandbox` does, then reads what a bot
needs from the `bot.env` it writes (with botkit's settings reader) and from `/sandbox/api/health`.

    with SandboxProcess(env={"BOTKIT_LLM": "echo"}) as sb:
        settings = sb.settings()          # botkit Settings whose api_base is the sandbox

    sb = SandboxProcess().start()         # in a notebook: stop it with sb.stop()

Ready means the sandbox answers `/sandbox/api/health` and its bot answers `/healthz`. If either
process dies first, `start()` fails at once with the sandbox's output in the error.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from botkit.config import Settings, configured_values, load_settings
from botkit.lab.processes import ChildExited, ChildProcess, free_port

BOT_ENV_FILE = "bot.env"
"""Where in its data dir the sandbox describes its app to a bot, as BOTKIT_* lines."""
STARTUP_TIMEOUT = 60.0
OUTPUT_LINES = 400


def sandbox_command(
    *, port: int, data_dir: str | Path, webhook_url: str | None = None, bot: str | None = None
) -> list[str]:
    """`python -m sandbox` with these options, as `botkit sandbox` and `SandboxProcess` run it;
    `bot` (module:attribute) is the Bot its `botkit serve` child serves."""
    command = [sys.executable, "-m", "sandbox", "--port", str(port), "--data-dir", str(data_dir)]
    if webhook_url:
        command += ["--webhook-url", webhook_url]
    return [*command, "--bot", bot] if bot else command


class SandboxProcess:
    """`python -m sandbox` on a free loopback port, with a temporary data dir unless given one.

    `env` is added to this process's environment for the sandbox and, through it, the bot
    (for example `{"BOTKIT_LLM": "echo"}`). With `webhook_url` no bot is started.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        webhook_url: str | None = None,
        bot: str | None = None,
        cwd: str | Path | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        echo: bool = False,
    ) -> None:
        self._given_dir = Path(data_dir).resolve() if data_dir is not None else None
        self._env = dict(env or {})
        self._webhook_url = webhook_url
        self._bot = bot
        self._cwd = cwd
        self._startup_timeout = startup_timeout
        self._echo = echo
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        self._child: ChildProcess | None = None
        self._app: dict[str, Any] | None = None
        self._health: dict[str, Any] = {}
        self.port = 0

    def __repr__(self) -> str:
        return f"SandboxProcess({self.base_url!r}, {'running' if self.running else 'stopped'})"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # -- what it serves -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.running

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        if self._given_dir is not None:
            return self._given_dir
        if self._temp is None:
            raise RuntimeError("the sandbox has not been started")
        return Path(self._temp.name)

    @property
    def app(self) -> Settings:
        """The sandbox's app as its `bot.env` describes it: SDKAppID, key, admin, token, robots, api_base."""
        return load_settings(env_file=None, environment=False, **self._started())

    @property
    def webhook_url(self) -> str | None:
        """Where the sandbox sends robot callbacks: its bot's `/im`, or the URL it was given."""
        self._started()
        url = self._health["webhook_url"]
        return str(url) if url is not None else None

    @property
    def demo_user(self) -> str:
        self._started()
        return str(self._health["demo_user"])

    @property
    def demo_group(self) -> str:
        self._started()
        return str(self._health["demo_group"])

    def settings(self, **overrides: Any) -> Settings:
        """botkit `Settings` for this app, `api_base` at the sandbox; other fields from the environment."""
        return load_settings(**self._started() | overrides)

    def output(self) -> str:
        """The last lines the sandbox (and its bot, prefixed `bot | `) printed."""
        return self._child.output() if self._child is not None else ""

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start and wait until ready; `ChildExited` or `TimeoutError` (with the output) if it is not."""
        if self._child is not None:
            raise RuntimeError("this SandboxProcess was already started")
        if self._given_dir is None:
            self._temp = tempfile.TemporaryDirectory(prefix="botkit-sandbox-", ignore_cleanup_errors=True)
        self.port = free_port()
        self._child = ChildProcess(
            "the sandbox (python -m sandbox)",
            sandbox_command(
                port=self.port, data_dir=self.data_dir, webhook_url=self._webhook_url, bot=self._bot
            ),
            env={"GRADIO_ANALYTICS_ENABLED": "False"} | self._env,
            cwd=self._cwd,
            on_line=self._echo_line,
            keep=OUTPUT_LINES,
            # Its own process group, so a stuck sandbox can be killed together with its bot.
            own_session=True,
        )
        self._child.start()
        try:
            with httpx.Client(timeout=2.0, trust_env=False) as http:
                self._health = self._child.wait_until(
                    lambda: self._ready(http),
                    timeout=self._startup_timeout,
                    failure="the sandbox was not ready",
                )
            self._app = self._read_app()
        except _BotExited as exited:
            self.stop()  # the sandbox's own last words about its bot are in the output then
            raise ChildExited(
                f"the bot (botkit serve) exited with code {exited.code}\n"
                f"--- output of python -m sandbox ---\n{self.output()}"
            ) from None
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM the sandbox (it stops its bot), SIGKILL the group if it hangs; idempotent."""
        if self._child is not None:
            self._child.stop()
        if self._temp is not None:
            self._temp.cleanup()

    # -- helpers --------------------------------------------------------------------------------

    def _started(self) -> dict[str, Any]:
        if self._app is None:
            raise RuntimeError("the sandbox has not been started: call start() or use `with`")
        return self._app

    def _echo_line(self, line: str) -> None:
        if self._echo:
            print(line, file=sys.stderr, flush=True)

    def _ready(self, http: httpx.Client) -> dict[str, Any] | None:
        """The sandbox's health once it and its bot answer; raises when the bot has died."""
        try:
            health: dict[str, Any] = http.get(f"{self.base_url}/sandbox/api/health").json()
            bot = health["bot"]
            if bot is None:
                return health
            if not bot["running"]:
                raise _BotExited(bot["exit_code"])
            return health if http.get(f"{bot['url']}/healthz").status_code == 200 else None
        except httpx.TransportError:
            return None

    def _read_app(self) -> dict[str, Any]:
        path = self.data_dir / BOT_ENV_FILE
        app = configured_values(env_file=path, environment=False)
        if app.get("api_base") != self.base_url:
            raise RuntimeError(f"{path} does not describe this sandbox")
        return app


class _BotExited(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.code = code
