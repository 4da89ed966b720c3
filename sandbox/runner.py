"""`SandboxProcess`: `python -m sandbox` (and the bot it starts) as a child process, for tests and notebooks.

    with SandboxProcess(env={"BOTKIT_LLM": "echo"}) as sb:
        settings = sb.settings()          # a botkit Settings whose api_base is the sandbox

    sb = SandboxProcess().start()         # in a notebook: stop it with sb.stop()

Ready means the sandbox answers `/sandbox/api/health` and its bot answers `/healthz`. If either
process dies first, `start()` fails at once with the sandbox's output in the error.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
from dotenv import dotenv_values
from pydantic import SecretStr

from botkit.config import Settings, load_settings
from sandbox.botchild import free_port
from sandbox.localapp import ENV_FILE, AppChoice
from sandbox.seed import DEMO_GROUP, DEMO_USER

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
POLL_SECONDS = 0.1
OUTPUT_LINES = 400


class SandboxStartError(RuntimeError):
    """The sandbox did not become ready; the message ends with what it printed."""


@dataclass(frozen=True)
class _App:
    """What the started sandbox serves, read back from its `bot.env`."""

    sdkappid: int
    key: SecretStr
    admin: str
    callback_token: SecretStr | None
    robots: list[str]
    webhook_url: str | None


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
        cwd: str | Path | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        echo: bool = False,
    ) -> None:
        self._given_dir = Path(data_dir).resolve() if data_dir is not None else None
        self._env = dict(env or {})
        self._webhook_url = webhook_url
        self._cwd = cwd
        self._startup_timeout = startup_timeout
        self._echo = echo
        self._output: deque[str] = deque(maxlen=OUTPUT_LINES)
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        self._app: _App | None = None
        self.port = 0

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"SandboxProcess({self.base_url!r}, {state})"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # -- what it serves -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

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
    def sdkappid(self) -> int:
        return self._started().sdkappid

    @property
    def key(self) -> SecretStr:
        return self._started().key

    @property
    def admin(self) -> str:
        return self._started().admin

    @property
    def callback_token(self) -> SecretStr | None:
        return self._started().callback_token

    @property
    def robots(self) -> list[str]:
        return list(self._started().robots)

    @property
    def webhook_url(self) -> str | None:
        """Where the sandbox sends robot callbacks: its bot's `/im`, or the URL it was given."""
        return self._started().webhook_url

    @property
    def demo_user(self) -> str:
        return DEMO_USER

    @property
    def demo_group(self) -> str:
        return DEMO_GROUP

    def settings(self, **overrides: Any) -> Settings:
        """botkit `Settings` for this app, `api_base` at the sandbox; other fields from the environment."""
        app = self._started()
        values: dict[str, Any] = {
            "sdkappid": app.sdkappid,
            "key": app.key,
            "admin": app.admin,
            "callback_token": app.callback_token,
            "robots": app.robots,
            "api_base": self.base_url,
        }
        return load_settings(**(values | overrides))

    def output(self) -> str:
        """The last lines the sandbox (and its bot, prefixed `bot | `) printed."""
        return "\n".join(self._output)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start and wait until ready; `SandboxStartError` (with the output) if it is not."""
        if self._process is not None:
            raise RuntimeError("this SandboxProcess was already started")
        if self._given_dir is None:
            self._temp = tempfile.TemporaryDirectory(prefix="botkit-sandbox-", ignore_cleanup_errors=True)
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        if self._webhook_url is not None:
            command += ["--webhook-url", self._webhook_url]
        self._process = subprocess.Popen(
            command,
            env=os.environ | {"PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False"} | self._env,
            cwd=self._cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            # Its own process group, so a stuck sandbox can be killed together with its bot.
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, args=(self._process,), daemon=True)
        self._reader.start()
        try:
            self._wait_ready()
            self._app = self._read_app()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM the sandbox (it stops its bot), SIGKILL the group if it hangs; idempotent."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT)
        if self._temp is not None:
            self._temp.cleanup()

    # -- helpers --------------------------------------------------------------------------------

    def _started(self) -> _App:
        if self._app is None:
            raise RuntimeError("the sandbox has not been started: call start() or use `with`")
        return self._app

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None, "started with stdout=PIPE"
        with process.stdout:
            for line in process.stdout:
                self._output.append(line.rstrip("\n"))
                if self._echo:
                    print(line, end="", file=sys.stderr, flush=True)

    def _fail(self, reason: str) -> SandboxStartError:
        """The error to raise, once the sandbox is stopped and all it printed has been read."""
        self.stop()
        return SandboxStartError(f"{reason}\n--- output of python -m sandbox ---\n{self.output()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._startup_timeout
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while not self._ready(http):
                if self._process is not None and self._process.poll() is not None:
                    raise self._fail(f"the sandbox exited with code {self._process.returncode}")
                if time.monotonic() > deadline:
                    raise self._fail(f"the sandbox was not ready within {self._startup_timeout:g} s")
                time.sleep(POLL_SECONDS)

    def _ready(self, http: httpx.Client) -> bool:
        """True once the sandbox and its bot answer; raises when the bot has died."""
        try:
            health = http.get(f"{self.base_url}/sandbox/api/health").json()
            bot = health["bot"]
            if bot is None:
                return True
            if not bot["running"]:
                raise self._fail(f"the bot (botkit serve) exited with code {bot['exit_code']}")
            return http.get(f"{bot['url']}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def _read_app(self) -> _App:
        values = {name: value for name, value in dotenv_values(self.data_dir / ENV_FILE).items() if value}
        choice = AppChoice.from_environ(values)
        if values.get("BOTKIT_API_BASE") != self.base_url:
            raise self._fail(f"{ENV_FILE} in {self.data_dir} does not describe this sandbox")
        if choice.sdkappid is None or choice.key is None or choice.admin is None or choice.robots is None:
            raise self._fail(f"{ENV_FILE} in {self.data_dir} lacks the app's SDKAppID, key, admin or robots")
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            health = http.get(f"{self.base_url}/sandbox/api/health").json()
        return _App(
            sdkappid=choice.sdkappid,
            key=choice.key,
            admin=choice.admin,
            callback_token=choice.callback_token,
            robots=choice.robots,
            webhook_url=health["webhook_url"],
        )
