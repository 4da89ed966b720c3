"""How `botkit serve` logs: plain or JSON lines, and floods of one kind of line cut to one per interval.

Anyone who can reach the port can make the service refuse things as fast as they can send; a log
line per refusal would turn that into a disk and CPU cost, and bury the lines that matter.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

LOG_INTERVAL_SECONDS = 10.0
FLOODABLE_LOGGERS = ("botkit.webhook", "botkit.serving", "uvicorn.error", "asyncio")
"""Loggers that write a line for each outside event (refused callbacks, bad requests, closed
connections, failed accepts), so each kind of their lines is let through once per interval."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and, on errors, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


@dataclass
class _Window:
    started: float
    held: int = 0


class RateLimitFilter(logging.Filter):
    """Lets the first record of each kind through per interval and holds back the rest.

    A kind is a logger, a level and a message template, so "refused callback from %s: %s" is one
    kind whatever the client and reason (metrics count each reason). The first record let through
    after a quiet spell says how many were held back; held records after the last one are not
    reported until the next one of their kind comes.
    """

    def __init__(
        self, interval: float = LOG_INTERVAL_SECONDS, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self._interval = interval
        self._clock = clock
        self._windows: dict[tuple[str, int, str], _Window] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        window = self._windows.get(kind)
        if window is not None and now - window.started < self._interval:
            window.held += 1
            return False
        self._windows[kind] = _Window(now)
        if window is not None and window.held:
            record.msg = (
                f"{record.getMessage()} (and {window.held} more like it in the "
                f"{now - window.started:.0f} s before, not logged)"
            )
            record.args = None
        return True


def limit_log_rate(names: Iterable[str] = FLOODABLE_LOGGERS, interval: float = LOG_INTERVAL_SECONDS) -> None:
    """Put one `RateLimitFilter` on each named logger (records of their child loggers are not held)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RateLimitFilter) for f in logger.filters):
            logger.addFilter(RateLimitFilter(interval))


def use_log_format(log_format: str) -> None:
    """Switch the root logger's handlers to JSON lines when `log_format` is "json"."""
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
