"""Prometheus metrics of one app, on its own registry, so two apps in one process stay apart.

Every component takes a `Metrics` argument and defaults to a fresh one nobody scrapes, so code
that builds a component without metrics (tests, notebooks) needs no stand-in. Label values are
botkit's own (command names, reasons, codes), never text from a request, to keep series bounded.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from botkit.callbacks import CallbackCommand
from botkit.errors import ChatAPIError

T = TypeVar("T")

REFUSAL_REASONS = {400: "invalid", 403: "forbidden", 413: "too_large", 503: "store_unavailable"}
"""The `reason` label of a refused callback, by the HTTP status it was refused with."""
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """Counters, gauges and histograms of one app; `render()` is the `/metrics` body.

    `in_flight` and `backlog` feed the "answers in flight" and "journal backlog" gauges, read at
    each scrape; `create_app` passes the intake's and the store's. Without them neither is exported.
    """

    def __init__(
        self,
        *,
        in_flight: Callable[[], int] | None = None,
        backlog: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._backlog = backlog
        self.callbacks = Counter(
            "botkit_callbacks",
            "Callbacks received, by command and result (acked, duplicate, refused) and refusal reason.",
            ["command", "result", "reason"],
            registry=self.registry,
        )
        self._recorded: dict[tuple[str, bool], Counter] = {}  # callbacks' children, by (command, is_new)
        self.replies = Counter(
            "botkit_replies_sent",
            "Reply messages sent, by kind (c2c, group).",
            ["kind"],
            registry=self.registry,
        )
        self.rest_seconds = Histogram(
            "botkit_rest_seconds",
            "Chat REST calls, by command: seconds per attempt.",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rest_errors = Counter(
            "botkit_rest_errors",
            "Failed Chat REST attempts, by command and code (Tencent's ErrorCode, or transport).",
            ["command", "code"],
            registry=self.registry,
        )
        self.model_seconds = Histogram(
            "botkit_model_seconds",
            "Model calls, by provider and outcome (ok, error, cancelled): seconds per call.",
            ["provider", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        if in_flight is not None:
            in_flight_gauge = Gauge(
                "botkit_answers_in_flight", "Answers being worked on right now.", registry=self.registry
            )
            in_flight_gauge.set_function(in_flight)
        self.backlog = (
            Gauge("botkit_journal_backlog", "Journal entries not yet answered.", registry=self.registry)
            if backlog is not None
            else None
        )

    def callback_refused(self, command: str | None, status: int) -> None:
        reason = REFUSAL_REASONS.get(status, f"http_{status}")
        self.callbacks.labels(_command_label(command), "refused", reason).inc()

    def callback_recorded(self, command: str, is_new: bool) -> None:
        """An acked callback: new work, or a repeat delivery of one already journalled."""
        child = self._recorded.get((command, is_new))
        if child is None:  # labels() costs more than the count itself: once per command and outcome
            child = self.callbacks.labels(_command_label(command), "acked" if is_new else "duplicate", "")
            self._recorded[(command, is_new)] = child
        child.inc()

    def reply_sent(self, kind: str) -> None:
        self.replies.labels(kind).inc()

    async def time_rest(self, command: str, call: Awaitable[T]) -> T:
        """Await one REST attempt, timing it and counting its failure by code."""
        started = time.perf_counter()
        try:
            return await call
        except ChatAPIError as exc:
            self.rest_errors.labels(command, str(exc.error_code)).inc()
            raise
        except Exception:
            self.rest_errors.labels(command, "transport").inc()
            raise
        finally:
            self.rest_seconds.labels(command).observe(time.perf_counter() - started)

    async def time_model(self, provider: str, call: Awaitable[T]) -> T:
        """Await one model call, timing it by outcome; a timeout shows as cancelled."""
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await call
            outcome = "ok"
            return result
        except BaseException as exc:
            if not isinstance(exc, Exception):
                outcome = "cancelled"
            raise
        finally:
            self.model_seconds.labels(provider, outcome).observe(time.perf_counter() - started)

    async def render(self) -> bytes:
        """The text exposition format, with the journal backlog read just now."""
        if self.backlog is not None and self._backlog is not None:
            self.backlog.set(await self._backlog())
        return generate_latest(self.registry)


def _command_label(command: str | None) -> str:
    if command is None:
        return "unknown"
    return command if command in CallbackCommand.__members__.values() else "other"
