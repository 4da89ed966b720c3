"""A bounded log of raw callbacks and REST calls, newest kept, for the inspector and for tests.

Thread-safe: the app records from the event loop while the UI reads from its own threads. The UI
polls `version`, which grows by one with every entry.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel

from botkit import scrub

DEFAULT_CAPACITY = 500


class TrafficEntry(BaseModel):
    """One callback attempt or one REST call; `status` is None when no HTTP answer came."""

    id: int
    kind: Literal["callback", "rest"]
    time: float
    method: str
    url: str
    request: Any
    response: Any
    status: int | None
    latency_ms: float
    error: str | None = None


class TrafficLog:
    """The last `capacity` entries; older ones fall off."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, *, clock: Callable[[], float] = time.time) -> None:
        self._entries: deque[TrafficEntry] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._clock = clock
        self._version = 0

    @property
    def version(self) -> int:
        """How many entries were ever recorded; poll it to see that something new arrived."""
        with self._lock:
            return self._version

    def record(
        self,
        kind: Literal["callback", "rest"],
        *,
        method: str,
        url: str,
        request: Any,
        response: Any = None,
        status: int | None = None,
        latency_ms: float = 0.0,
        error: str | None = None,
    ) -> TrafficEntry:
        with self._lock:
            self._version += 1
            entry = TrafficEntry(
                id=self._version,
                kind=kind,
                time=self._clock(),
                method=method,
                url=scrub(url),
                request=request,
                response=response,
                status=status,
                latency_ms=round(latency_ms, 3),
                error=scrub(error) if error is not None else None,
            )
            self._entries.append(entry)
        return entry

    def list(
        self, *, newest_first: bool = True, kind: Literal["callback", "rest"] | None = None
    ) -> list[TrafficEntry]:
        with self._lock:
            entries = [entry for entry in self._entries if kind is None or entry.kind == kind]
        return entries[::-1] if newest_first else entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
