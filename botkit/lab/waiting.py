"""Poll until a deadline: `wait_until` blocks (child processes, servers), `await_until` awaits (in-process).

Both ask a probe again and again until it gives something (anything but None or False) and raise
`TimeoutError` naming what never happened once the time is up. `check` fails fast by raising, for
example when a child process has died; `explain` adds what the caller knows at the moment of failure
(a child's output, the traffic seen) to the message. The clock and sleep are arguments, so a test
runs a long timeout in no time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.05


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    failure: str,
    interval: float = POLL_SECONDS,
    check: Callable[[], None] = lambda: None,
    explain: Callable[[], str] = lambda: "",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`probe()`'s first answer, asked every `interval` s; `TimeoutError("<failure> within <timeout> s")`."""
    deadline = clock() + timeout
    while True:
        check()
        found = probe()
        if found is not None and found is not False:
            return found
        if clock() >= deadline:
            raise TimeoutError(f"{failure} within {timeout:g} s{explain()}")
        sleep(interval)


async def await_until(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float,
    failure: str,
    interval: float = POLL_SECONDS,
    explain: Callable[[], str] = lambda: "",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """`await probe()`'s first answer, asked every `interval` s; a probe that hangs is cut off at the
    deadline too. `TimeoutError("<failure> within <timeout> s")` when none came."""
    deadline = clock() + timeout
    # The probes themselves run against the event loop's clock, so one that hangs ends in time too.
    limit = asyncio.timeout(timeout)
    try:
        async with limit:
            while True:
                found = await probe()
                if found is not None and found is not False:
                    return found
                if clock() >= deadline:
                    break
                await sleep(interval)
    except TimeoutError:
        if not limit.expired():
            raise
    raise TimeoutError(f"{failure} within {timeout:g} s{explain()}")
