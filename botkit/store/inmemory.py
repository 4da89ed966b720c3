"""A dict-backed Store for tests and `memory://`; nothing survives the process.

Lanes with a pending head sit in a heap keyed by when that head is next due; stale heap items are
skipped as they surface, so every operation costs O(log n) like the durable stores.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections import deque
from collections.abc import Sequence

from botkit.store.base import EntryStatus, JournalEntry, LeaseLost, Turn


class InMemoryStore:
    def __init__(self) -> None:
        self._entries: dict[str, JournalEntry] = {}
        self._lanes: dict[str, deque[str]] = {}
        self._due: dict[str, float] = {}  # lane → when its head is next due
        self._heap: list[tuple[float, int, str]] = []
        self._pushes = 0
        self._turns: dict[str, list[Turn]] = {}

    async def record(self, key: str, payload: str, *, now: float, lane: str) -> bool:
        if key in self._entries:
            return False
        self._entries[key] = JournalEntry(key=key, payload=payload, created_at=now, lane=lane)
        queue = self._lanes.setdefault(lane, deque())
        queue.append(key)
        if len(queue) == 1:
            self._set_due(lane, now)
        return True

    async def lease(self, key: str, *, now: float, lease_seconds: float) -> JournalEntry | None:
        entry = self._entries.get(key)
        if entry is None or entry.status is not EntryStatus.PENDING:
            return None
        queue = self._lanes.get(entry.lane)
        if not queue or queue[0] != key or self._due[entry.lane] > now:
            return None
        return self._lease(entry, now + lease_seconds)

    async def claim(self, *, now: float, lease_seconds: float, limit: int) -> list[JournalEntry]:
        claimed: list[JournalEntry] = []
        while self._heap and len(claimed) < limit and self._heap[0][0] <= now:
            due, _, lane = heapq.heappop(self._heap)
            if self._due.get(lane) != due:
                continue  # stale: the lane's head moved on or was rescheduled
            claimed.append(self._lease(self._entries[self._lanes[lane][0]], now + lease_seconds))
        return claimed

    async def renew(
        self, leases: Sequence[tuple[str, int]], *, now: float, lease_seconds: float
    ) -> list[str]:
        lost = []
        for key, token in leases:
            entry = self._holding(key, token)
            if entry is None:
                lost.append(key)
                continue
            entry.leased_until = now + lease_seconds
            self._set_due(entry.lane, entry.leased_until)
        return lost

    async def save_reply(self, key: str, parts: Sequence[str], *, token: int) -> None:
        self._held(key, token).reply_parts = list(parts)

    async def mark_sent(self, key: str, sent_parts: int, *, token: int) -> None:
        self._held(key, token).sent_parts = sent_parts

    async def save_stream(self, key: str, stream: str, *, token: int) -> None:
        self._held(key, token).stream = stream

    async def retry_later(self, key: str, *, token: int, not_before: float, error: str) -> None:
        entry = self._held(key, token)
        entry.attempts += 1
        entry.not_before = not_before
        entry.leased_until = 0.0
        entry.error = error
        self._set_due(entry.lane, not_before)

    async def release(self, key: str, *, token: int, now: float) -> None:
        entry = self._held(key, token)
        entry.leased_until = 0.0
        self._set_due(entry.lane, now)

    async def finish(
        self, key: str, status: EntryStatus, error: str | None = None, *, token: int
    ) -> str | None:
        entry = self._held(key, token)
        entry.status = status
        entry.error = error
        entry.leased_until = 0.0
        queue = self._lanes[entry.lane]
        queue.remove(key)
        if not queue:
            del self._lanes[entry.lane]
            del self._due[entry.lane]
            return None
        head = self._entries[queue[0]]
        self._set_due(entry.lane, head.not_before)
        return head.key

    async def get(self, key: str) -> JournalEntry | None:
        entry = self._entries.get(key)
        return _copy(entry) if entry else None

    async def backlog(self) -> int:
        return sum(len(queue) for queue in self._lanes.values())

    async def load_turns(self, conversation: str, limit: int) -> list[Turn]:
        return self._turns.get(conversation, [])[-limit:] if limit else []

    async def append_turns(self, conversation: str, turns: Sequence[Turn]) -> None:
        self._turns.setdefault(conversation, []).extend(turns)

    async def clear_turns(self, conversation: str) -> None:
        self._turns.pop(conversation, None)

    async def close(self) -> None:
        return None

    def _lease(self, entry: JournalEntry, until: float) -> JournalEntry:
        entry.token += 1
        entry.leased_until = until
        self._set_due(entry.lane, until)
        return _copy(entry)

    def _holding(self, key: str, token: int) -> JournalEntry | None:
        """The entry while it is pending and leased with `token`, else None."""
        entry = self._entries.get(key)
        if entry is None or entry.token != token or entry.status is not EntryStatus.PENDING:
            return None
        return entry

    def _held(self, key: str, token: int) -> JournalEntry:
        entry = self._holding(key, token)
        if entry is None:
            raise LeaseLost(key)
        return entry

    def _set_due(self, lane: str, due: float) -> None:
        self._due[lane] = due
        self._pushes += 1
        heapq.heappush(self._heap, (due, self._pushes, lane))


def _copy(entry: JournalEntry) -> JournalEntry:
    """A copy the caller may change without changing the store."""
    parts = list(entry.reply_parts) if entry.reply_parts is not None else None
    return dataclasses.replace(entry, reply_parts=parts)
