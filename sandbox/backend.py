"""The fake Chat backend without HTTP: state, traffic log, faults and dispatcher, plus `execute()`.

The FastAPI app, the control API and the UI all go through one `Backend`, so a message sent from
the UI takes the same checks and fires the same callbacks as one sent over REST.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from botkit.callbacks import parse_callback
from botkit.lab.recording import RecordedCall
from botkit.restmodels import Envelope
from sandbox.commands import run_command
from sandbox.context import CommandContext
from sandbox.dispatch import Dispatcher
from sandbox.errorcodes import SandboxError
from sandbox.faults import Faults
from sandbox.state import SandboxState
from sandbox.traffic import TrafficLog

RECORDING_CAPACITY = 10_000


class Backend:
    """One fake Chat app. `faults` may be replaced at any time; the next call or callback sees it.

    `recording` holds the session's callbacks and the REST calls that came over HTTP, secrets
    removed, newest last (the last `RECORDING_CAPACITY`).
    """

    def __init__(
        self,
        state: SandboxState,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        traffic: TrafficLog | None = None,
    ) -> None:
        if not state.configured:
            raise ValueError(
                "the sandbox state has no config: call state.set_config(SandboxConfig(...)) first"
            )
        self.state = state
        self.clock = clock
        self.rng = rng if rng is not None else random.Random()
        self.faults = Faults()
        self.traffic = traffic if traffic is not None else TrafficLog(clock=clock)
        self.recording: deque[RecordedCall] = deque(maxlen=RECORDING_CAPACITY)
        self.dispatcher = Dispatcher(
            state,
            self.traffic,
            faults=lambda: self.faults,
            clock=clock,
            sleep=sleep,
            rng=self.rng,
            record=self.recording.append,
        )

    def __repr__(self) -> str:
        return f"Backend(state={self.state!r})"

    def execute(
        self,
        command: str,
        body: Mapping[str, Any],
        *,
        operator: str | None = None,
        platform: str = "RESTAPI",
        client_ip: str = "127.0.0.1",
    ) -> dict[str, Any]:
        """Run "service/command" as `operator` (the admin by default) and schedule its callbacks.

        Returns the full answer envelope, OK or FAIL. URL and UserSig checks are the app's job, not
        this method's. Call it on the event loop while the dispatcher runs: callbacks are tasks.
        """
        ctx = CommandContext(self.state, self.clock(), self.rng, operator or self.state.config.admin)
        try:
            result = run_command(command, ctx, body)
        except SandboxError as exc:
            return exc.envelope()
        for callback in result.callbacks:
            self.dispatcher.schedule(callback, client_ip=client_ip, platform=platform)
        return Envelope.ok(result.fields).to_wire()

    def replay(self, calls: Iterable[RecordedCall]) -> int:
        """Send the recorded callbacks again to the configured webhook, signed anew; how many."""
        count = 0
        for call in calls:
            if call.kind != "callback":
                continue
            callback = parse_callback(call.command, json.dumps(call.body).encode("utf-8"))
            client_ip, platform = call.query.get("ClientIP", "127.0.0.1"), call.query.get("OptPlatform", "")
            self.dispatcher.schedule(callback, client_ip=client_ip, platform=platform or "RESTAPI")
            count += 1
        return count
