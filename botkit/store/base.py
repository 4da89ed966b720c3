"""The Store protocol: conversation turns and the durable intake journal, behind one interface.

The journal is the write-ahead log that makes answering crash-safe and lets replicas take over: a
callback is recorded before it is acked, its reply text is saved before the first send, and each
sent part is counted, so whoever resumes it resends (with the same MsgRandom, which Tencent
de-duplicates) rather than re-asking.

Each entry belongs to a lane (one user's chat with a robot, or one group). Only the oldest pending
entry of a lane, its head, can be leased, so a conversation is answered in order while different
lanes are answered at the same time. A lease is short and renewed while the answer runs; every
lease bumps the entry's fencing `token`, and every write names the token it holds, so a worker
whose lease was taken over gets `LeaseLost` instead of overwriting the new holder's progress.

Every operation is indexed: stores keep the lanes that have a pending head ordered by when that
head is next due, so leasing, renewing and finishing cost the same with 100 or 100,000 pending
entries and with a week of finished ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from botkit.llm.base import Role

DONE_TTL_SECONDS = 7 * 24 * 3600
"""How long finished journal entries are kept: a late repeat delivery within it is still a duplicate."""
TURNS_CAP = 200
"""Turns kept per conversation; the prompt uses far fewer (BOTKIT_HISTORY_TURNS)."""


class EntryStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class LeaseLost(Exception):
    """The entry is no longer leased with this token: another worker took it over, or it is closed."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the lease on {key!r} was lost")
        self.key = key


@dataclass(frozen=True)
class Turn:
    """One remembered message of a conversation."""

    role: Role
    content: str


@dataclass
class JournalEntry:
    """One recorded callback and how far its answer got; `token` is the lease it was read under."""

    key: str
    payload: str
    status: EntryStatus = EntryStatus.PENDING
    attempts: int = 0
    not_before: float = 0.0
    reply_parts: list[str] | None = None
    sent_parts: int = 0
    error: str | None = None
    created_at: float = 0.0
    lane: str = ""
    token: int = 0
    leased_until: float = field(default=0.0, repr=False)
    stream: str | None = field(default=None, repr=False)
    """How far a streamed reply got (`botkit.streaming` owns the format); None for whole replies."""


class Store(Protocol):
    """Where botkit keeps what must outlive a request (and, with Redis, be shared by replicas)."""

    async def record(self, key: str, payload: str, *, now: float, lane: str) -> bool:
        """Journal a callback under its dedupe key, in `lane`; False when that key was seen before."""
        ...

    async def lease(self, key: str, *, now: float, lease_seconds: float) -> JournalEntry | None:
        """Lease this entry if it is pending, due, unleased and the head of its lane; else None."""
        ...

    async def claim(self, *, now: float, lease_seconds: float, limit: int) -> list[JournalEntry]:
        """Lease up to `limit` due lane heads, the earliest due first."""
        ...

    async def renew(
        self, leases: Sequence[tuple[str, int]], *, now: float, lease_seconds: float
    ) -> list[str]:
        """Extend the given (key, token) leases to `now + lease_seconds`; returns the keys no longer held."""
        ...

    async def save_reply(self, key: str, parts: Sequence[str], *, token: int) -> None:
        """Remember the reply text before sending, so a retry resends the same text."""
        ...

    async def mark_sent(self, key: str, sent_parts: int, *, token: int) -> None:
        """Count the reply parts already delivered."""
        ...

    async def save_stream(self, key: str, stream: str, *, token: int) -> None:
        """Record a streamed reply's progress (before a message opens, after each call), so whoever
        resumes the entry closes the stream instead of leaving it open."""
        ...

    async def retry_later(self, key: str, *, token: int, not_before: float, error: str) -> None:
        """Release the lease and try again from `not_before`, one attempt more."""
        ...

    async def release(self, key: str, *, token: int, now: float) -> None:
        """Hand the lease back at once, as on shutdown; the attempt is not counted."""
        ...

    async def finish(
        self, key: str, status: EntryStatus, error: str | None = None, *, token: int
    ) -> str | None:
        """Close an entry as done or failed; returns the next pending key of its lane, now its head."""
        ...

    async def get(self, key: str) -> JournalEntry | None: ...

    async def backlog(self) -> int:
        """How many entries are pending."""
        ...

    async def load_turns(self, conversation: str, limit: int) -> list[Turn]:
        """The last `limit` turns of a conversation, oldest first."""
        ...

    async def append_turns(self, conversation: str, turns: Sequence[Turn]) -> None: ...

    async def clear_turns(self, conversation: str) -> None:
        """Forget a conversation's turns."""
        ...

    async def close(self) -> None: ...
