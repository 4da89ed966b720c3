"""Durable intake: callbacks are journalled before the ack and answered by a pool of workers.

A callback is recorded under its dedupe key, so a repeat delivery adds no work. Workers lease due
entries, hand them to the Handler and mark them done. A crash leaves the lease to expire and the
entry is taken up again; the journal remembers the reply text and how many parts went out, so the
answer is resumed, not asked again. Retryable failures back off; the rest are logged and closed.
Messages of one lane (a user's chat with a robot, or a group) are answered one at a time in arrival
order, each seeing the exchanges before it, while other lanes are answered meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from botkit.callbacks import C2CMessage, GroupMessage, journal_payload
from botkit.errors import ChatAPIError
from botkit.handler import Handler
from botkit.logmask import scrub
from botkit.store.base import EntryStatus, JournalEntry, Store

log = logging.getLogger("botkit.intake")

MAX_BACKOFF_SECONDS = 60.0
STOP_GRACE_SECONDS = 10.0


class Intake:
    """The journal plus its worker pool; `start()` in the app's lifespan, `stop()` on shutdown."""

    def __init__(
        self,
        store: Store,
        *,
        workers: int,
        max_attempts: int,
        lease_seconds: float,
        poll_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._handler: Handler | None = None
        self._workers = workers
        self._max_attempts = max_attempts
        self._lease_seconds = lease_seconds
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._wake = asyncio.Event()
        self._busy = 0
        self._stopping = False
        self._generation = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def record(self, message: C2CMessage | GroupMessage) -> bool:
        """Journal a callback; False when it is a repeat of one already recorded."""
        payload = journal_payload(message)
        is_new = await self._store.record(message.dedupe_key, payload, now=self._clock(), lane=message.lane)
        if is_new:
            self._generation += 1
            self._idle.clear()
            self._wake.set()
        else:
            log.info("duplicate delivery of %s acknowledged without new work", message.dedupe_key)
        return is_new

    def start(self, handler: Handler) -> None:
        """Start the workers; they answer with `handler` (built once the HTTP client is open)."""
        self._handler = handler
        self._idle.clear()  # the journal may hold work from before a restart
        for number in range(self._workers):
            task = asyncio.create_task(self._work(), name=f"botkit-intake-{number}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._wake.set()

    async def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Let workers finish the entry in hand for up to `grace_seconds`, then cancel them.

        An entry cut off mid-answer is resumed by the next start once its lease expires.
        """
        self._stopping = True
        self._wake.set()
        tasks = list(self._tasks)
        if not tasks:
            return
        _, unfinished = await asyncio.wait(tasks, timeout=grace_seconds)
        for task in unfinished:
            log.warning("stopping %s mid-answer; the entry resumes after a restart", task.get_name())
            task.cancel()
        for task in unfinished:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_idle(self) -> None:
        """Return once every recorded entry that is due has been handled (for tests and shutdown)."""
        await self._idle.wait()

    async def _work(self) -> None:
        while not self._stopping:
            self._wake.clear()
            generation = self._generation
            self._busy += 1
            try:
                entries = await self._claim()
                for entry in entries:
                    await self._process_safely(entry)
            finally:
                self._busy -= 1
            if entries:
                continue
            # Idle only if no worker is busy and nothing was recorded since this claim began.
            if self._busy == 0 and generation == self._generation:
                self._idle.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)

    async def _claim(self) -> list[JournalEntry]:
        """Due entries, or none when the store is unreachable (logged; the poll tries again)."""
        try:
            return await self._store.claim(now=self._clock(), lease_seconds=self._lease_seconds, limit=1)
        except Exception:
            log.exception("cannot read the intake journal; retrying in %.0f s", self._poll_seconds)
            return []

    async def _process_safely(self, entry: JournalEntry) -> None:
        """Process one entry; a store failure while recording the outcome must not end the worker."""
        try:
            await self._process(entry)
        except asyncio.CancelledError:
            await self._release(entry)
            raise
        except Exception:
            log.exception("cannot record the outcome of %s; it is retried once its lease expires", entry.key)

    async def _release(self, entry: JournalEntry) -> None:
        """Hand an entry cut off by shutdown back at once, so a quick restart resumes it inside
        Tencent's de-dup window instead of waiting for the lease to run out."""
        try:
            await self._store.retry_later(entry.key, not_before=self._clock(), error="stopped mid-answer")
        except Exception:
            log.exception("cannot release %s; it resumes once its lease expires", entry.key)

    async def _process(self, entry: JournalEntry) -> None:
        assert self._handler is not None, "start() sets the handler before any worker runs"
        try:
            await self._handler.handle(entry)
        except ChatAPIError as exc:
            if not exc.retryable:
                log.error("giving up on %s: %s", entry.key, exc)
                await self._store.finish(entry.key, EntryStatus.FAILED, scrub(str(exc)))
                return
            await self._retry_or_fail(entry, exc)
        except Exception as exc:
            await self._retry_or_fail(entry, exc)
        else:
            await self._store.finish(entry.key, EntryStatus.DONE)

    async def _retry_or_fail(self, entry: JournalEntry, exc: Exception) -> None:
        attempt = entry.attempts + 1
        if attempt >= self._max_attempts:
            log.error("giving up on %s after %d attempts: %r", entry.key, attempt, exc)
            await self._store.finish(entry.key, EntryStatus.FAILED, scrub(repr(exc)))
            return
        delay = min(2.0**attempt, MAX_BACKOFF_SECONDS)
        log.warning("attempt %d for %s failed (%r); retrying in %.0f s", attempt, entry.key, exc, delay)
        await self._store.retry_later(entry.key, not_before=self._clock() + delay, error=scrub(repr(exc)))
