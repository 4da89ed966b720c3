"""Robot callbacks to the bot's webhook, sent as Tencent sends them.

The bodies are botkit's own `C2CMessage` / `GroupMessage` models dumped with `dump_callback`, so the
fake and the bot agree on the wire format by construction. Query string and `Sign` follow
protocol.md §1.1 and §1.2; an attempt fails on timeout (2 s by default), no answer, a status other than
200, or a reply that is not JSON. Timeouts are retried only when `callback_retries` is set, as with
Tencent's optional "retry on timeout" switch. Every attempt is recorded in the traffic log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx

from botkit import callbacks
from botkit.callbacks import C2CMessage, CallbackQuery, GroupMessage, dump_callback
from botkit.lab.recording import RecordedCall, recorded
from sandbox.faults import Faults, happens
from sandbox.models import C2CRecord, GroupRecord, SandboxConfig
from sandbox.state import SandboxState
from sandbox.traffic import TrafficLog

logger = logging.getLogger("sandbox.dispatch")

_JSON_HEADERS = {"Content-Type": "application/json"}
REORDER_WINDOW_SECONDS = 5.0
"""How long a reordered callback waits for a later one to overtake it before it goes anyway."""
_NOT_RUNNING = "the dispatcher is not running: start the sandbox app's lifespan (or Dispatcher.running) first"

Callback = C2CMessage | GroupMessage


def c2c_callback(record: C2CRecord, *, event_time: int) -> C2CMessage:
    """`Bot.OnC2CMessage` for a stored 1:1 message to a robot."""
    return C2CMessage(
        from_account=record.from_account,
        to_account=record.to_account,
        msg_seq=record.msg_seq,
        msg_random=record.msg_random,
        msg_time=record.msg_time,
        msg_key=record.msg_key,
        online_only_flag=int(record.online_only),
        send_msg_result=0,
        error_info="send msg succeed",
        msg_body=record.body,
        cloud_custom_data=record.cloud_custom_data,
        event_time=event_time,
    )


def group_callback(
    record: GroupRecord, *, group_type: str, at_robots: list[str], operator: str, event_time: int
) -> GroupMessage:
    """`Bot.OnGroupMessage` for a stored group message that @-mentions `at_robots`."""
    return GroupMessage(
        group_id=record.group_id,
        type=group_type,
        from_account=record.from_account,
        operator_account=operator,
        random=record.random,
        msg_seq=record.msg_seq,
        msg_time=record.msg_time,
        online_only_flag=0 if group_type == "AVChatRoom" else int(record.online_only),
        msg_body=record.body,
        at_robots_account=at_robots,
        cloud_custom_data=record.cloud_custom_data,
        event_time=event_time,
    )


def callback_query(config: SandboxConfig, command: str, *, client_ip: str, platform: str) -> dict[str, str]:
    """Tencent's callback query string before signing."""
    query = CallbackQuery(
        sdkappid=config.sdkappid, callback_command=command, client_ip=client_ip, opt_platform=platform
    )
    return query.params()


def callback_url(
    config: SandboxConfig, command: str, *, client_ip: str, platform: str, request_time: int
) -> str:
    """The webhook URL with Tencent's query string; `Sign` and `RequestTime` last, when a token is set."""
    if config.webhook_url is None:
        raise ValueError("no callback URL is configured")
    token = config.callback_token.get_secret_value() if config.callback_token is not None else None
    params = callback_query(config, command, client_ip=client_ip, platform=platform)
    return callbacks.callback_url(config.webhook_url, params, token=token, request_time=request_time)


class _Outcome(Enum):
    OK = "ok"
    TIMEOUT = "timeout"
    FAILED = "failed"


class Dispatcher:
    """Sends robot callbacks in background tasks; `drain()` waits for them, shutdown cancels them.

    `faults` is read at each delivery, so a change made in the UI applies to the next callback; each
    fault is drawn from `rng`, so a seeded one gives the same mix of faults every run. Every callback
    is handed to `record` once, before faults apply, as the session's recording. `clock` gives each
    `RequestTime`; a delayed callback waits with `sleep`, so a test's fake time runs a delay (and the
    timeout it causes) at once, while the bot's own answer is still waited for on the event loop.
    """

    def __init__(
        self,
        state: SandboxState,
        traffic: TrafficLog,
        *,
        faults: Callable[[], Faults] = Faults,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        record: Callable[[RecordedCall], None] = lambda call: None,
    ) -> None:
        self._state = state
        self._sleep = sleep
        self._record = record
        self._traffic = traffic
        self._faults = faults
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[bool]] = set()
        self._held: list[asyncio.Event] = []

    @property
    def pending(self) -> int:
        return len(self._tasks)

    @asynccontextmanager
    async def running(self, client: httpx.AsyncClient) -> AsyncIterator[None]:
        """Send through `client` while inside; on exit, cancel what is still pending."""
        self._client = client
        try:
            yield
        finally:
            self._client = None
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def schedule(
        self, callback: Callback, *, client_ip: str = "127.0.0.1", platform: str = "RESTAPI"
    ) -> None:
        """Send `callback` in the background, as Tencent does after it stored the message."""
        if self._client is None:
            raise RuntimeError(_NOT_RUNNING)
        # Drawn here, not in the task, so drain() knows at once which callbacks wait to be overtaken.
        held = asyncio.Event() if happens(self._faults().reorder_rate, self._rng) else None
        if held is not None:
            self._held.append(held)
        task = asyncio.get_running_loop().create_task(
            self._deliver_after(held, callback, client_ip=client_ip, platform=platform)
        )
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    async def drain(self) -> None:
        """Wait until every scheduled callback (and any it caused) has been delivered or given up.

        Callbacks held back for reordering go as soon as nothing else is left to overtake them.
        """
        while self._tasks:
            if len(self._held) >= len(self._tasks):
                self._release_held()
            await asyncio.wait(list(self._tasks), return_when=asyncio.FIRST_COMPLETED)

    def _release_held(self) -> None:
        for held in self._held:
            held.set()
        self._held.clear()

    async def _deliver_after(
        self, held: asyncio.Event | None, callback: Callback, *, client_ip: str, platform: str
    ) -> bool:
        if held is None:
            return await self.deliver(callback, client_ip=client_ip, platform=platform)
        try:
            async with asyncio.timeout(REORDER_WINDOW_SECONDS):
                await held.wait()
        except TimeoutError:
            if held in self._held:
                self._held.remove(held)
        return await self.deliver(callback, client_ip=client_ip, platform=platform, overtakes=False)

    def _finished(self, task: asyncio.Task[bool]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("callback delivery crashed", exc_info=task.exception())

    async def deliver(
        self,
        callback: Callback,
        *,
        client_ip: str = "127.0.0.1",
        platform: str = "RESTAPI",
        overtakes: bool = True,
    ) -> bool:
        """Send one callback now, with the configured faults and retries; True if the bot took it.

        Once sent, it releases the callbacks held back for reordering (unless `overtakes` is False).
        """
        if self._client is None:
            raise RuntimeError(_NOT_RUNNING)
        client = self._client
        config = self._state.config
        faults = self._faults()
        body = dump_callback(callback)
        command = str(body["CallbackCommand"])
        query = callback_query(config, command, client_ip=client_ip, platform=platform)
        self._record(recorded("callback", command, query, body, at=self._clock()))
        dropped = happens(faults.drop_rate, self._rng)
        if config.webhook_url is None or dropped:
            reason = "dropped by fault injection" if dropped else "no callback URL is configured"
            self._traffic.record(
                "callback", method="POST", url=config.webhook_url or "", request=body, error=reason
            )
            return False
        send = _Sender(
            client,
            config,
            self._traffic,
            self._clock,
            self._sleep,
            body,
            client_ip,
            platform,
            faults.delay_callbacks_seconds if happens(faults.delay_rate, self._rng) else 0.0,
        )
        delivered = await send.with_retries()
        if overtakes:
            self._release_held()
        if happens(faults.duplicate_rate, self._rng):
            await send.with_retries()
        return delivered


@dataclass(frozen=True)
class _Sender:
    """One callback's attempts: each with a fresh `RequestTime`, within the callback timeout."""

    client: httpx.AsyncClient
    config: SandboxConfig
    traffic: TrafficLog
    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]
    body: dict[str, Any]
    client_ip: str
    platform: str
    delay: float

    async def with_retries(self) -> bool:
        for _ in range(1 + self.config.callback_retries):
            outcome = await self.attempt()
            if outcome is not _Outcome.TIMEOUT:
                return outcome is _Outcome.OK
        return False

    async def attempt(self) -> _Outcome:
        url = callback_url(
            self.config,
            str(self.body["CallbackCommand"]),
            client_ip=self.client_ip,
            platform=self.platform,
            request_time=int(self.clock()),
        )
        started = time.perf_counter()
        status: int | None = None
        reply_body: Any = None
        outcome, error = _Outcome.OK, None
        timeout = self.config.callback_timeout
        try:
            # A delay is the network's: it counts against the callback timeout, on the fake's time.
            if self.delay:
                await self.sleep(min(self.delay, timeout))
            if self.delay >= timeout:
                raise TimeoutError
            async with asyncio.timeout(timeout - self.delay):
                reply = await self.client.post(
                    url,
                    content=json.dumps(self.body, ensure_ascii=False).encode("utf-8"),
                    headers=_JSON_HEADERS,
                )
        except (TimeoutError, httpx.TimeoutException):
            outcome, error = _Outcome.TIMEOUT, f"timed out after {timeout:g} s"
        except httpx.HTTPError as exc:
            outcome, error = _Outcome.FAILED, f"unreachable ({type(exc).__name__})"
        else:
            status, reply_body, error = reply.status_code, *_read_reply(reply)
            if error is not None:
                outcome = _Outcome.FAILED
        self.traffic.record(
            "callback",
            method="POST",
            url=url,
            request=self.body,
            response=reply_body,
            status=status,
            latency_ms=(time.perf_counter() - started) * 1000,
            error=error,
        )
        return outcome


def _read_reply(reply: httpx.Response) -> tuple[Any, str | None]:
    """The reply body (JSON, else text) and why Tencent would count it as a failure, if it would."""
    try:
        data = reply.json()
    except ValueError:
        reason = f"HTTP {reply.status_code}" if reply.status_code != 200 else "the reply is not JSON"
        return reply.text, reason
    return data, None if reply.status_code == 200 else f"HTTP {reply.status_code}"
