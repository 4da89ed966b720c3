"""The default Store: one SQLite file in WAL mode; survives restarts, shared by processes on one host."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from botkit.store.base import DONE_TTL_SECONDS, TURNS_CAP, EntryStatus, JournalEntry, Turn
from botkit.store.migrations import rekey_sqlite

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    key TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    leased_until REAL NOT NULL DEFAULT 0,
    reply_parts TEXT,
    sent_parts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at REAL NOT NULL,
    lane TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS journal_due ON journal (status, not_before);
CREATE INDEX IF NOT EXISTS journal_age ON journal (status, created_at);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns (conversation, id);
"""

# Leases the oldest due entries, skipping any with an older pending entry (leased or not) in its lane.
_CLAIM = """
SELECT * FROM journal AS entry
WHERE status = 'pending' AND not_before <= ? AND leased_until <= ?
AND NOT EXISTS (
    SELECT 1 FROM journal AS older
    WHERE older.lane = entry.lane AND older.status = 'pending'
    AND (older.created_at < entry.created_at
         OR (older.created_at = entry.created_at AND older.rowid < entry.rowid))
)
ORDER BY created_at, rowid LIMIT ?
"""


class SQLiteStore:
    """Store on one SQLite file; calls run in a worker thread so the event loop never blocks."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        with _transaction(self._db):
            _add_lanes(self._db)
        rekey_sqlite(self._db)

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return work(self._db)

        return await asyncio.to_thread(locked)

    async def record(self, key: str, payload: str, *, now: float, lane: str) -> bool:
        def insert(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "INSERT OR IGNORE INTO journal (key, payload, created_at, lane) VALUES (?, ?, ?, ?)",
                (key, payload, now, lane),
            )
            db.execute(
                "DELETE FROM journal WHERE status IN ('done', 'failed') AND created_at < ?",
                (now - DONE_TTL_SECONDS,),
            )
            return cursor.rowcount == 1

        return await self._run(insert)

    async def claim(self, *, now: float, lease_seconds: float, limit: int) -> list[JournalEntry]:
        def lease(db: sqlite3.Connection) -> list[JournalEntry]:
            with _transaction(db):
                rows = db.execute(_CLAIM, (now, now, limit)).fetchall()
                db.executemany(
                    "UPDATE journal SET leased_until = ? WHERE key = ?",
                    [(now + lease_seconds, row["key"]) for row in rows],
                )
            return [_entry(row) for row in rows]

        return await self._run(lease)

    async def save_reply(self, key: str, parts: Sequence[str]) -> None:
        await self._execute("UPDATE journal SET reply_parts = ? WHERE key = ?", json.dumps(list(parts)), key)

    async def mark_sent(self, key: str, sent_parts: int) -> None:
        await self._execute("UPDATE journal SET sent_parts = ? WHERE key = ?", sent_parts, key)

    async def retry_later(self, key: str, *, not_before: float, error: str) -> None:
        await self._execute(
            "UPDATE journal SET attempts = attempts + 1, not_before = ?, leased_until = 0, error = ? "
            "WHERE key = ?",
            not_before,
            error,
            key,
        )

    async def finish(self, key: str, status: EntryStatus, error: str | None = None) -> None:
        await self._execute(
            "UPDATE journal SET status = ?, error = ?, leased_until = 0 WHERE key = ?",
            status.value,
            error,
            key,
        )

    async def get(self, key: str) -> JournalEntry | None:
        def select(db: sqlite3.Connection) -> JournalEntry | None:
            row = db.execute("SELECT * FROM journal WHERE key = ?", (key,)).fetchone()
            return _entry(row) if row else None

        return await self._run(select)

    async def load_turns(self, conversation: str, limit: int) -> list[Turn]:
        def select(db: sqlite3.Connection) -> list[Turn]:
            rows = db.execute(
                "SELECT role, content FROM turns WHERE conversation = ? ORDER BY id DESC LIMIT ?",
                (conversation, limit),
            ).fetchall()
            return [Turn(role=row["role"], content=row["content"]) for row in reversed(rows)]

        return await self._run(select)

    async def append_turns(self, conversation: str, turns: Sequence[Turn]) -> None:
        def insert(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO turns (conversation, role, content) VALUES (?, ?, ?)",
                [(conversation, turn.role, turn.content) for turn in turns],
            )
            db.execute(
                "DELETE FROM turns WHERE conversation = ? AND id NOT IN "
                "(SELECT id FROM turns WHERE conversation = ? ORDER BY id DESC LIMIT ?)",
                (conversation, conversation, TURNS_CAP),
            )

        await self._run(insert)

    async def close(self) -> None:
        await self._run(lambda db: db.close())

    async def _execute(self, sql: str, *params: Any) -> None:
        await self._run(lambda db: db.execute(sql, params))


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """A write transaction taken up front, so other processes wait instead of interleaving."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _add_lanes(db: sqlite3.Connection) -> None:
    """Give a journal from before lanes its lane column; its old entries share the lane ''."""
    columns = {row["name"] for row in db.execute("PRAGMA table_info(journal)")}
    if "lane" not in columns:
        db.execute("ALTER TABLE journal ADD COLUMN lane TEXT NOT NULL DEFAULT ''")
    db.execute("CREATE INDEX IF NOT EXISTS journal_lane ON journal (lane, status, created_at)")


def _entry(row: sqlite3.Row) -> JournalEntry:
    parts = row["reply_parts"]
    return JournalEntry(
        key=row["key"],
        payload=row["payload"],
        status=EntryStatus(row["status"]),
        attempts=row["attempts"],
        not_before=row["not_before"],
        leased_until=row["leased_until"],
        reply_parts=json.loads(parts) if parts is not None else None,
        sent_parts=row["sent_parts"],
        error=row["error"],
        created_at=row["created_at"],
        lane=row["lane"],
    )
