"""The answering engine: every journalled callback is dispatched at once, in process.

`record` writes the callback to the journal (the store) and hands its key straight to the lane it
belongs to: a user's chat with a robot, or a group. Each lane with work runs as one task that
answers its messages one at a time, in arrival order, while up to `max_in_flight` answers of
different lanes run together. Nothing polls on the hot path.

The journal is the write-ahead log, not a queue: a sweeper claims from it only what no task here
holds, namely messages left by a crashed process or another replica, retries that fell due, and
the backlog found at start. Leases are short and renewed in one batch while answers run; each
carries a fencing token, so a worker that lost its lease can neither send nor record progress.
After a `kill -9` the dead process's leases run out within `lease_seconds`, well inside Tencent's
120 s de-dup window, so a part resent with the same MsgRandom is dropped by Tencent, not shown twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

from botkit.callbacks import C2CMessage, GroupMessage, journal_payload
from botkit.errors import ChatAPIError
from botkit.handler import Handler
from botkit.leases import Lease
from botkit.logmask import scrub
from botkit.store.base import EntryStatus, JournalEntry, LeaseLost, Store

log = logging.getLogger("botkit.intake")

MAX_BACKOFF_SECONDS = 60.0
STOP_GRACE_SECONDS = 10.0
CLAIM_BATCH = 50
"""Most entries one sweep leases at a time; a full batch is followed at once by another. Store
calls run on the event loop: a batch is a few milliseconds of callbacks waiting, not tens."""
RENEW_BATCH = 250
"""Most leases one store call renews; thousands held are renewed a batch per turn of the loop."""


class Intake:
    """The journal plus the tasks that answer it; `start()` in the app's lifespan, `stop()` on shutdown."""

    def __init__(
        self,
        store: Store,
        *,
        max_in_flight: int,
        max_attempts: int,
        lease_seconds: float,
        poll_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._handler: Handler | None = None
        self._max_in_flight = max_in_flight
        self._max_attempts = max_attempts
        self._lease_seconds = lease_seconds
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._lanes: dict[str, deque[str | JournalEntry]] = {}
        # Lanes with work and no task yet, waiting for one of the `max_in_flight` lane tasks.
        self._waiting: deque[str] = deque()
        # Keys waiting in a lane, with the callback when it was recorded here and is answered at
        # once (not parsed again). A key that waits keeps no callback: tens of thousands of parsed
        # callbacks held through a burst are memory and, worse, minutes of the collector's time.
        self._queued_messages: dict[str, C2CMessage | GroupMessage | None] = {}
        self._queued = 0  # items in lanes, plus the ones being answered
        self._held: dict[str, Lease] = {}
        self._lane_tasks: set[asyncio.Task[None]] = set()
        self._loops: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._generation = 0
        self._stopping = False

    @property
    def in_flight(self) -> int:
        """Answers being worked on right now (holding a lease)."""
        return len(self._held)

    async def record(self, message: C2CMessage | GroupMessage) -> bool:
        """Journal a callback and dispatch it; False when it is a repeat of one already recorded."""
        payload = journal_payload(message)
        is_new = await self._store.record(message.dedupe_key, payload, now=self._clock(), lane=message.lane)
        if not is_new:
            log.info("duplicate delivery of %r acknowledged without new work", message.dedupe_key)
        elif self._handler is not None and not self._stopping:
            self._dispatch(message.lane, message.dedupe_key, message)
        return is_new

    def start(self, handler: Handler) -> None:
        """Start answering with `handler` (built once the HTTP client is open), backlog first."""
        self._handler = handler
        self._idle.clear()  # the journal may hold work from before a restart
        for loop in (self._sweep, self._heartbeat):
            task = asyncio.create_task(loop(), name=f"botkit-intake-{loop.__name__.strip('_')}")
            self._loops.add(task)
            task.add_done_callback(self._loops.discard)

    async def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Let answers in progress finish for up to `grace_seconds`, then cut them off.

        An answer cut off is handed back to the journal at once, so a quick restart (or another
        replica) resumes it without waiting for its lease to run out.
        """
        self._stopping = True
        self._wake.set()
        if self._lane_tasks:
            _, unfinished = await asyncio.wait(list(self._lane_tasks), timeout=grace_seconds)
            for task in unfinished:
                task.cancel()
            if unfinished:
                log.warning("stopped %d answer(s) mid-way; each resumes on the next start", len(unfinished))
                await asyncio.wait(unfinished)
        for task in list(self._loops):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_idle(self) -> None:
        """Return once every recorded entry that is due has been handled (for tests and the sandbox)."""
        await self._idle.wait()

    def _dispatch(
        self, lane: str, item: str | JournalEntry, message: C2CMessage | GroupMessage | None = None
    ) -> None:
        self._generation += 1
        self._idle.clear()
        self._queued += 1
        queue = self._lanes.get(lane)
        if queue is not None:  # behind the lane's current answer
            if isinstance(item, str):
                self._queued_messages[item] = None
            queue.append(item)
            return
        if isinstance(item, str):
            self._queued_messages[item] = message
        self._lanes[lane] = deque([item])
        self._waiting.append(lane)
        self._start_lanes()
        if isinstance(item, str) and self._waiting and self._waiting[-1] == lane:
            self._queued_messages[item] = None  # no task free for it yet

    def _start_lanes(self) -> None:
        """Give waiting lanes a task each, up to `max_in_flight` tasks: a lane answers one message
        at a time, so that many tasks are that many answers in flight. Lanes beyond wait as names
        in a queue, not as tasks waiting on a semaphore."""
        while self._waiting and len(self._lane_tasks) < self._max_in_flight and not self._stopping:
            lane = self._waiting.popleft()
            task = asyncio.create_task(self._run_lane(lane), name=f"botkit-lane-{lane}")
            self._lane_tasks.add(task)
            task.add_done_callback(self._lane_done)

    def _lane_done(self, task: asyncio.Task[None]) -> None:
        self._lane_tasks.discard(task)
        self._start_lanes()

    async def _run_lane(self, lane: str) -> None:
        """Answer a lane's messages one at a time, following the journal to the lane's next head;
        after each, a lane waiting for a task goes first, and this one queues up behind it."""
        queue = self._lanes[lane]
        queued_again = False
        try:
            while queue and not self._stopping:
                await self._answer_next(lane, queue.popleft())
                if queue and self._waiting and not self._stopping:
                    self._waiting.append(lane)
                    queued_again = True
                    return
        finally:
            if not queued_again:
                self._close_lane(lane)

    async def _answer_next(self, lane: str, item: str | JournalEntry) -> None:
        message = self._queued_messages.pop(item, None) if isinstance(item, str) else None
        try:
            entry = item if isinstance(item, JournalEntry) else await self._lease(item)
            next_key = await self._answer(entry, message) if entry is not None else None
        finally:
            self._queued -= 1
        if next_key is not None and next_key not in self._queued_messages and not self._stopping:
            self._dispatch(lane, next_key)

    def _close_lane(self, lane: str) -> None:
        for item in self._lanes.pop(lane):  # left for the journal: a later sweep, or the next start
            self._queued -= 1
            if isinstance(item, str):
                self._queued_messages.pop(item, None)
        if self._queued == 0:
            self._wake.set()  # let the sweeper look for due work, and notice idleness

    async def _lease(self, key: str) -> JournalEntry | None:
        """Lease a freshly recorded entry; None when it is not its lane's head yet, or already taken."""
        try:
            return await self._store.lease(key, now=self._clock(), lease_seconds=self._lease_seconds)
        except Exception:
            log.exception("cannot lease %r; the sweeper takes it up later", key)
            return None

    async def _answer(self, entry: JournalEntry, message: C2CMessage | GroupMessage | None) -> str | None:
        """Answer one leased entry; returns the next key of its lane when the lane moved on."""
        lease = Lease(
            entry.key, entry.token, entry.leased_until, self._store, self._lease_seconds, self._clock
        )
        self._held[entry.key] = lease
        try:
            return await self._process(entry, lease, message)
        except asyncio.CancelledError:
            await self._release(entry)
            raise
        except LeaseLost:
            log.warning("lost the lease on %r; whoever holds it now answers it", entry.key)
        except Exception:
            log.exception("cannot record the outcome of %r; it is retried once its lease expires", entry.key)
        finally:
            self._held.pop(entry.key, None)
        return None

    async def _process(
        self, entry: JournalEntry, lease: Lease, message: C2CMessage | GroupMessage | None
    ) -> str | None:
        assert self._handler is not None, "start() sets the handler before anything is dispatched"
        try:
            await self._handler.handle(entry, lease, message)
        except LeaseLost:
            raise
        except ChatAPIError as exc:
            if not exc.retryable:
                log.error("giving up on %r: %s", entry.key, exc)
                return await self._finish(entry, EntryStatus.FAILED, scrub(str(exc)))
            return await self._retry_or_fail(entry, exc)
        except Exception as exc:
            return await self._retry_or_fail(entry, exc)
        return await self._finish(entry, EntryStatus.DONE)

    async def _finish(self, entry: JournalEntry, status: EntryStatus, error: str | None = None) -> str | None:
        return await self._store.finish(entry.key, status, error, token=entry.token)

    async def _retry_or_fail(self, entry: JournalEntry, exc: Exception) -> str | None:
        attempt = entry.attempts + 1
        if attempt >= self._max_attempts:
            log.error("giving up on %r after %d attempts: %r", entry.key, attempt, exc)
            return await self._finish(entry, EntryStatus.FAILED, scrub(repr(exc)))
        delay = min(2.0**attempt, MAX_BACKOFF_SECONDS)
        log.warning("attempt %d for %r failed (%r); retrying in %.0f s", attempt, entry.key, exc, delay)
        await self._store.retry_later(
            entry.key, token=entry.token, not_before=self._clock() + delay, error=scrub(repr(exc))
        )
        self._wake.set()
        return None

    async def _release(self, entry: JournalEntry) -> None:
        """Hand an entry cut off by shutdown back at once, so a quick restart resumes it inside
        Tencent's de-dup window instead of waiting for the lease to run out."""
        try:
            await self._store.release(entry.key, token=entry.token, now=self._clock())
        except Exception:
            log.exception("cannot release %r; it resumes once its lease expires", entry.key)

    async def _sweep(self) -> None:
        """Claim due entries no task here holds: the backlog, retries, work of a crashed replica."""
        while not self._stopping:
            self._wake.clear()
            generation = self._generation
            limit = min(self._max_in_flight - self._queued, CLAIM_BATCH)
            claimed = await self._claim(limit) if limit > 0 else []
            for entry in claimed:
                self._dispatch(entry.lane, entry)
            if claimed and len(claimed) == limit:
                continue  # more may be due right now
            if not claimed and self._queued == 0 and generation == self._generation:
                self._idle.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)

    async def _claim(self, limit: int) -> list[JournalEntry]:
        try:
            return await self._store.claim(now=self._clock(), lease_seconds=self._lease_seconds, limit=limit)
        except Exception:
            log.exception("cannot read the intake journal; retrying in %.0f s", self._poll_seconds)
            return []

    async def _heartbeat(self) -> None:
        """Renew every held lease, `RENEW_BATCH` to a store call, three times per lease period."""
        while True:  # cancelled by stop(), once the answers in hand have finished or been cut off
            await asyncio.sleep(self._lease_seconds / 3)
            held = list(self._held.values())
            for first in range(0, len(held), RENEW_BATCH):
                await self._renew(held[first : first + RENEW_BATCH])

    async def _renew(self, held: list[Lease]) -> None:
        now = self._clock()
        try:
            lost = set(
                await self._store.renew(
                    [(lease.key, lease.token) for lease in held], now=now, lease_seconds=self._lease_seconds
                )
            )
        except Exception:
            log.exception("cannot renew %d lease(s); sends stop once they run short", len(held))
            return
        for lease in held:
            if self._held.get(lease.key) is not lease:
                continue  # finished while the renewal ran: not lost, just done
            if lease.key in lost:
                log.warning("the lease on %r was taken over; this process sends no more of it", lease.key)
            lease.renewed(now, lost=lease.key in lost)
