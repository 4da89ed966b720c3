"""A clock for tests that passes only when every task waits: a 20 s stall takes no real time.

`sleep` parks the caller until the virtual time reaches its deadline. `running()` starts the task
that moves time on: whenever the event loop has nothing ready to run (all tasks wait on sleeps,
events or I/O), it jumps to the earliest deadline and wakes that sleeper. Everything in-process (the
sandbox over `ASGITransport`, the bot, a scripted model) then happens in the order a real clock
would give, in a few milliseconds.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from botkit.errors import LLMError
from botkit.llm.base import ChatMessage

START = 1_700_000_000.0
_SPINS_WITHOUT_READY_QUEUE = 50
_REAL_SOON = 0.05


class VirtualClock:
    def __init__(self, start: float = START) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._count = 0

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake = asyncio.get_running_loop().create_future()
        self._count += 1
        heapq.heappush(self._sleepers, (self.now + seconds, self._count, wake))
        await wake

    @asynccontextmanager
    async def running(self) -> AsyncIterator[VirtualClock]:
        mover = asyncio.create_task(self._move())
        try:
            yield self
        finally:
            mover.cancel()

    async def _move(self) -> None:
        loop = asyncio.get_running_loop()
        spins = 0
        while True:
            await asyncio.sleep(0)
            ready = getattr(loop, "_ready", None)  # CPython's queue of callbacks due now
            busy = bool(ready) if ready is not None else (spins := spins + 1) < _SPINS_WITHOUT_READY_QUEUE
            if busy:
                continue
            if _real_timer_due(loop):
                await asyncio.sleep(0.001)  # a real sleep ends soon (a rate limiter): let it end first
                continue
            spins = 0
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # its sleeper was cancelled
            if not self._sleepers:
                await asyncio.sleep(0.001)  # nothing to wake: let real I/O and timers happen
                continue
            when, _, wake = heapq.heappop(self._sleepers)
            self.now = max(self.now, when)
            wake.set_result(None)


def _real_timer_due(loop: asyncio.AbstractEventLoop) -> bool:
    timers = getattr(loop, "_scheduled", ())  # CPython's heap of pending call_later handles
    return any(not timer.cancelled() and timer.when() - loop.time() < _REAL_SOON for timer in timers)


class ScriptedModel:
    """A provider that writes `steps` of (seconds to wait, text) on a clock, then maybe fails."""

    name = "scripted"

    def __init__(
        self, steps: Sequence[tuple[float, str]], clock: VirtualClock, *, fail_after: int | None = None
    ) -> None:
        self.steps = list(steps)
        self.clock = clock
        self.fail_after = fail_after

    @property
    def answer(self) -> str:
        return "".join(text for _, text in self.steps[: self.fail_after])

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        for number, (delay, text) in enumerate(self.steps):
            if number == self.fail_after:
                raise LLMError("scripted: the model server went away")
            await self.clock.sleep(delay)
            yield text


def words(text: str, *, every: float) -> list[tuple[float, str]]:
    """`text` as one step per word, `every` seconds apart (0.05 is 20 tokens a second)."""
    pieces = text.split(" ")
    return [(every, piece if n == len(pieces) - 1 else piece + " ") for n, piece in enumerate(pieces)]
