"""A dict-backed Store for tests and `memory://`; nothing survives the process."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from botkit.store.base import EntryStatus, JournalEntry, Turn


class InMemoryStore:
    def __init__(self) -> None:
        self._entries: dict[str, JournalEntry] = {}
        self._turns: dict[str, list[Turn]] = {}

    async def record(self, key: str, payload: str, *, now: float, lane: str) -> bool:
        if key in self._entries:
            return False
        self._entries[key] = JournalEntry(key=key, payload=payload, created_at=now, lane=lane)
        return True

    async def claim(self, *, now: float, lease_seconds: float, limit: int) -> list[JournalEntry]:
        pending = [entry for entry in self._entries.values() if entry.status is EntryStatus.PENDING]
        pending.sort(key=lambda entry: entry.created_at)  # stable: ties stay in insertion order
        heads: dict[str, JournalEntry] = {}  # only the oldest pending entry of a lane may be leased
        for entry in pending:
            heads.setdefault(entry.lane, entry)
        due = [entry for entry in heads.values() if entry.not_before <= now and entry.leased_until <= now]
        claimed = due[:limit]
        for entry in claimed:
            entry.leased_until = now + lease_seconds
        return [_copy(entry) for entry in claimed]

    async def save_reply(self, key: str, parts: Sequence[str]) -> None:
        self._entries[key].reply_parts = list(parts)

    async def mark_sent(self, key: str, sent_parts: int) -> None:
        self._entries[key].sent_parts = sent_parts

    async def retry_later(self, key: str, *, not_before: float, error: str) -> None:
        entry = self._entries[key]
        entry.attempts += 1
        entry.not_before = not_before
        entry.leased_until = 0.0
        entry.error = error

    async def finish(self, key: str, status: EntryStatus, error: str | None = None) -> None:
        entry = self._entries[key]
        entry.status = status
        entry.error = error
        entry.leased_until = 0.0

    async def get(self, key: str) -> JournalEntry | None:
        entry = self._entries.get(key)
        return _copy(entry) if entry else None

    async def load_turns(self, conversation: str, limit: int) -> list[Turn]:
        return self._turns.get(conversation, [])[-limit:] if limit else []

    async def append_turns(self, conversation: str, turns: Sequence[Turn]) -> None:
        self._turns.setdefault(conversation, []).extend(turns)

    async def close(self) -> None:
        return None


def _copy(entry: JournalEntry) -> JournalEntry:
    """A copy the caller may change without changing the store."""
    parts = list(entry.reply_parts) if entry.reply_parts is not None else None
    return dataclasses.replace(entry, reply_parts=parts)
