"""`python -m sandbox`: the fake backend, its UI and a `botkit serve` child, served on one port.

Layout of the port: REST at `/v4/{service}/{command}`, the control API at `/sandbox/api/...`
(with `/sandbox/api/health` for readiness), the Gradio UI at `/`. The data dir keeps the state
(`sandbox.db`), the bot's store (`botkit.db`) and `bot.env`, the settings a bot needs to use it.

Ready means ready: the port is bound at once, but served (and the URLs printed) only once the bot
answers `/healthz`, so no message, from the UI or a REST client, fires a callback at a bot that
does not listen yet; an early client waits in the listen backlog instead.
"""

from __future__ import annotations

import importlib.util
import random
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from botkit.errors import ConfigError
from botkit.lab.processes import free_port
from sandbox.app import backend_of, create_backend_app
from sandbox.botchild import CALLBACK_PATH, BotChild
from sandbox.seed import (
    BOT_ENV_FILE,
    DEMO_GROUP,
    DEMO_USER,
    SeededApp,
    bot_env,
    pinned_values,
    seed_app,
    write_env_file,
)
from sandbox.state import SandboxState

STATE_FILE = "sandbox.db"
BOT_STORE_FILE = "botkit.db"
GRACEFUL_SHUTDOWN_SECONDS = 5


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".sandbox")
    webhook_url: str | None = None
    bot: str | None = None
    """The Bot (module:attribute) the `botkit serve` child serves; None: the one BOTKIT_* configures."""


class BotView(BaseModel):
    url: str
    pid: int | None
    running: bool
    ready: bool
    exit_code: int | None
    answering_with: str | None = None


class Health(BaseModel):
    """Readiness and who is in the app; `bot` is None when callbacks go to a bot the sandbox did not start."""

    status: str
    sdkappid: int
    webhook_url: str | None
    bot: BotView | None
    demo_user: str = DEMO_USER
    demo_group: str = DEMO_GROUP


def create_server_app(state: SandboxState, bot: BotChild | None) -> FastAPI:
    """The sandbox app plus `/sandbox/api/health` and, when gradio is installed, the UI at `/`.

    `app.state.end_streams` ends the UI's endless streams (a no-op without the UI).
    """
    app = create_backend_app(state)
    app.state.end_streams = lambda: None

    @app.get("/sandbox/api/health")
    def health() -> Health:
        config = state.config
        view = None
        if bot is not None:
            view = BotView(
                url=bot.url,
                pid=bot.pid,
                running=bot.running,
                ready=bot.ready,
                exit_code=bot.exit_code,
                answering_with=bot.answering_with,
            )
        return Health(status="ok", sdkappid=config.sdkappid, webhook_url=config.webhook_url, bot=view)

    # Mounted last: the UI at "/" would otherwise shadow the routes above.
    if importlib.util.find_spec("gradio") is not None:
        from sandbox.ui import mount_ui

        app.state.end_streams = mount_ui(app, backend_of(app), bot)
    return app


class _Server(uvicorn.Server):
    """uvicorn that first ends the UI's streams when it stops: an open browser tab holds an endless
    heartbeat stream, which would otherwise keep the graceful shutdown waiting and then be cancelled
    with a traceback."""

    def __init__(self, config: uvicorn.Config, end_streams: Callable[[], None]) -> None:
        super().__init__(config)
        self._end_streams = end_streams

    async def shutdown(self, sockets: Any = None) -> None:
        self._end_streams()
        await super().shutdown(sockets)


def loopback(host: str) -> str:
    """The address a local client uses to reach a server listening on `host`."""
    return "127.0.0.1" if host in ("", "0.0.0.0") else host


def banner(options: ServerOptions, port: int, app: SeededApp, bot: BotChild | None) -> str:
    base = f"http://{loopback(options.host)}:{port}"
    ui = f"{base}/" if importlib.util.find_spec("gradio") else "not installed: pip install 'botkit[sandbox]'"
    if bot is not None:
        webhook = f"{bot.webhook_url} (botkit serve, pid {bot.pid}; its output is prefixed 'bot | ')"
    else:
        webhook = f"{app.config.webhook_url} (not started by the sandbox)"
    lines = [
        "botkit sandbox: a local Tencent Cloud Chat",
        f"  UI:           {ui}",
        f"  REST API:     {base}/v4/<service>/<command>",
        f"  SDKAppID:     {app.config.sdkappid} (admin {app.config.admin}, robots {', '.join(app.robots)})",
        f"  demo:         user {app.user}, group {app.group}",
        f"  bot webhook:  {webhook}",
        f"  bot settings: {options.data_dir / BOT_ENV_FILE}",
    ]
    return "\n".join(lines)


def serve(
    options: ServerOptions,
    *,
    out: Callable[[str], None] = lambda line: print(line, flush=True),
    rng: random.Random | None = None,
) -> int:
    """Run until interrupted; the exit status. The environment pins the app and reaches the bot."""
    try:
        pinned = pinned_values()
        listener = socket.create_server((options.host, options.port))
    except ConfigError as exc:
        out(f"sandbox: {exc}")
        return 2
    except OSError as exc:
        out(f"sandbox: cannot listen on {options.host}:{options.port}: {exc.strerror}")
        return 1
    options.data_dir.mkdir(parents=True, exist_ok=True)
    state = SandboxState(str(options.data_dir / STATE_FILE))
    try:
        return _run(options, pinned, listener, state, out, rng or random.SystemRandom())
    except ConfigError as exc:
        out(f"sandbox: {exc}")
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        listener.close()
        state.close()


def _run(
    options: ServerOptions,
    pinned: Mapping[str, Any],
    listener: socket.socket,
    state: SandboxState,
    out: Callable[[str], None],
    rng: random.Random,
) -> int:
    host = loopback(options.host)
    port = listener.getsockname()[1]
    bot_port = free_port(host) if options.webhook_url is None else None
    webhook_url = options.webhook_url or f"http://{host}:{bot_port}{CALLBACK_PATH}"
    app = seed_app(state, pinned, webhook_url=webhook_url, rng=rng)
    settings_env = bot_env(app, f"http://{host}:{port}")
    write_env_file(options.data_dir / BOT_ENV_FILE, settings_env)
    server: uvicorn.Server | None = None
    bot = None
    if bot_port is not None:
        store = f"sqlite:///{(options.data_dir / BOT_STORE_FILE).resolve()}"
        bot = BotChild(
            settings_env | {"BOTKIT_STORE": store},
            port=bot_port,
            host=host,
            out=out,
            stopping=lambda: server is not None and server.should_exit,
            bot=options.bot,
        )
    server_app = create_server_app(state, bot)
    config = uvicorn.Config(
        server_app,
        log_level="info",
        # No access log: REST URLs carry the admin's UserSig.
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = _Server(config, server_app.state.end_streams)
    try:
        if bot is not None:
            bot.start()
            failure = bot.wait_ready()
            if failure is not None:
                out(f"sandbox: {failure}; its output is above (prefixed 'bot | ').")
                return 1
        out(banner(options, port, app, bot))
        server.run(sockets=[listener])
    finally:
        if bot is not None:
            bot.stop()
    return 0
