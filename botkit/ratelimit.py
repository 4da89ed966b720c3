"""Client-side pacing of REST calls, so a burst of answers never meets Tencent's frequency limit.

Tencent limits each REST command per app (sendmsg: 200 calls/s by default) and answers a call
over the limit with 60007/60018-style errors; spacing the calls here costs a few milliseconds,
while a refused call costs a backoff. One GCRA schedule per key: each caller reserves the next
free slot at once, before awaiting, so concurrent callers on one event loop need no lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateLimiter:
    """At most `rate` calls per second per key, evenly spaced; `rate` 0 lets everything through.

    No burst allowance: even spacing keeps any one-second window at the limit however the server
    counts. `clock` and `sleep` are injectable so tests pace calls on a fake clock.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate < 0:
            raise ValueError("rate must be 0 (off) or positive")
        self._interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next_free: dict[str, float] = {}  # GCRA's theoretical arrival time, one per key

    def delay(self, key: str) -> float:
        """Reserve the next slot for `key` and return how long to wait for it (0.0 when free now)."""
        if not self._interval:
            return 0.0
        now = self._clock()
        slot = max(self._next_free.get(key, now), now)
        self._next_free[key] = slot + self._interval
        return slot - now

    def try_acquire(self, key: str) -> bool:
        """Take `key`'s slot if it is free now, for a call that may be skipped instead of waiting
        (a "typing…" signal must never delay a reply); False, reserving nothing, when calls queue."""
        if not self._interval:
            return True
        now = self._clock()
        if self._next_free.get(key, now) > now:
            return False
        self._next_free[key] = now + self._interval
        return True

    async def acquire(self, key: str) -> None:
        """Wait for `key`'s next slot."""
        wait = self.delay(key)
        if wait > 0:
            await self._sleep(wait)
