"""The Store protocol: conversation turns and the durable intake journal, behind one interface.

The journal is what makes intake crash-safe: a callback is recorded before it is acked, its reply
text is saved before the first send, and each sent part is counted, so a restart resumes where it
stopped and resends (with the same MsgRandom, which Tencent de-duplicates) rather than re-asking.
Each entry belongs to a lane (one user's chat with a robot, or one group): `claim` never leases an
entry while an older entry of its lane is still pending, so a conversation is answered in order,
each answer seeing the exchanges before it, while different lanes are answered at the same time.
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


@dataclass(frozen=True)
class Turn:
    """One remembered message of a conversation."""

    role: Role
    content: str


@dataclass
class JournalEntry:
    """One recorded callback and how far its answer got."""

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
    leased_until: float = field(default=0.0, repr=False)


class Store(Protocol):
    """Where botkit keeps what must outlive a request (and, with Redis, be shared by replicas)."""

    async def record(self, key: str, payload: str, *, now: float, lane: str) -> bool:
        """Journal a callback under its dedupe key, in `lane`; False when that key was seen before."""
        ...

    async def claim(self, *, now: float, lease_seconds: float, limit: int) -> list[JournalEntry]:
        """Lease up to `limit` due, unleased entries, none while an older entry of its lane is pending."""
        ...

    async def save_reply(self, key: str, parts: Sequence[str]) -> None:
        """Remember the reply text before sending, so a retry resends the same text."""
        ...

    async def mark_sent(self, key: str, sent_parts: int) -> None:
        """Count the reply parts already delivered."""
        ...

    async def retry_later(self, key: str, *, not_before: float, error: str) -> None:
        """Release the lease and try again from `not_before`, one attempt more."""
        ...

    async def finish(self, key: str, status: EntryStatus, error: str | None = None) -> None:
        """Close an entry as done or failed."""
        ...

    async def get(self, key: str) -> JournalEntry | None: ...

    async def load_turns(self, conversation: str, limit: int) -> list[Turn]:
        """The last `limit` turns of a conversation, oldest first."""
        ...

    async def append_turns(self, conversation: str, turns: Sequence[Turn]) -> None: ...

    async def close(self) -> None: ...
