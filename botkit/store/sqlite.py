"""The default Store: one SQLite file in WAL mode; survives restarts, shared by processes on one host.

Writes from concurrent callbacks and answers are group-committed (`groupcommit`): statements run
on the event loop, one transaction for what is queued in one turn of it, one fsync of the WAL for
the durable writes that commit meanwhile. What the exactly-once promise rests on waits for that
fsync, so it survives a power cut, not just a crash of the process: a recorded callback (before
its ack), a reply's text (before its first part is sent) and each part counted as sent. The rest
does not wait for the disk (it survives a crash of the process): leases, renewals and hand-
backs (lost, an entry is only free sooner), retry times, finished marks (an entry found pending
with every part counted is finished again, nothing resent) and conversation turns (the memory
misses that exchange). The `lanes` table holds each lane with a pending head and when that head
is next due, indexed by that time, so claiming never scans the backlog.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botkit.store.base import DONE_TTL_SECONDS, TURNS_CAP, EntryStatus, JournalEntry, LeaseLost, Turn
from botkit.store.groupcommit import GroupCommitter
from botkit.store.migrations import rekey_sqlite

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
    lane TEXT NOT NULL DEFAULT '',
    token INTEGER NOT NULL DEFAULT 0,
    stream TEXT
);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns (conversation, id);
"""

# Created after the journal has every column, so an old file is upgraded first (`_upgrade`). An
# index entry ends with the rowid, the arrival order, so a lane's head is one index seek.
_INDEXES = """
CREATE TABLE IF NOT EXISTS lanes (lane TEXT PRIMARY KEY, due REAL NOT NULL);
CREATE INDEX IF NOT EXISTS lanes_by_due ON lanes (due);
CREATE INDEX IF NOT EXISTS journal_pending_by_lane ON journal (lane) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS journal_finished_by_age ON journal (created_at) WHERE status != 'pending';
DROP INDEX IF EXISTS journal_due;
DROP INDEX IF EXISTS journal_age;
DROP INDEX IF EXISTS journal_lane;
"""

PRUNE_EVERY_SECONDS = 60.0
"""How often a claim also forgets entries finished more than DONE_TTL_SECONDS ago."""

_HEAD = "SELECT key, not_before FROM journal WHERE lane = ? AND status = 'pending' ORDER BY rowid LIMIT 1"
_LEASE = (
    "UPDATE journal SET token = token + 1, leased_until = ? WHERE key = ? AND status = 'pending' RETURNING *"
)
# One statement: the entry is pending, the head of its lane, and its lane is due.
_LEASE_IF_HEAD = """
UPDATE journal SET token = token + 1, leased_until = :until
WHERE key = :key AND status = 'pending'
  AND rowid = (SELECT rowid FROM journal AS head WHERE head.lane = journal.lane
               AND head.status = 'pending' ORDER BY rowid LIMIT 1)
  AND EXISTS (SELECT 1 FROM lanes WHERE lanes.lane = journal.lane AND lanes.due <= :now)
RETURNING *
"""
# A whole batch of (key, token) leases, passed as one JSON array, in one statement.
_RENEW = """
UPDATE journal SET leased_until = ?
FROM (SELECT json_extract(value, '$[0]') AS key, json_extract(value, '$[1]') AS token
      FROM json_each(?)) AS held
WHERE journal.key = held.key AND journal.token = held.token AND journal.status = 'pending'
RETURNING journal.key, journal.lane
"""
_FENCED = "WHERE key = ? AND token = ? AND status = 'pending' RETURNING lane"


class SQLiteStore:
    """Store on one SQLite file; statements run on the event loop, fsyncs and checkpoints on a thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(_SCHEMA)
        db.execute("BEGIN IMMEDIATE")
        try:
            _upgrade(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        rekey_sqlite(db)
        self._db = GroupCommitter(db)
        self._pruned_at = float("-inf")

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    async def record(self, key: str, payload: str, *, now: float, lane: str) -> bool:
        def insert(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "INSERT OR IGNORE INTO journal (key, payload, created_at, lane) VALUES (?, ?, ?, ?)",
                (key, payload, now, lane),
            )
            if cursor.rowcount != 1:
                return False
            db.execute("INSERT OR IGNORE INTO lanes (lane, due) VALUES (?, ?)", (lane, now))
            return True

        return await self._db.run(insert)

    async def lease(self, key: str, *, now: float, lease_seconds: float) -> JournalEntry | None:
        until = now + lease_seconds

        def lease_one(db: sqlite3.Connection) -> JournalEntry | None:
            row = db.execute(_LEASE_IF_HEAD, {"until": until, "key": key, "now": now}).fetchone()
            if row is None:
                return None
            _set_due(db, row["lane"], until)
            return _entry(row)

        return await self._db.run(lease_one, durable=False)

    async def claim(self, *, now: float, lease_seconds: float, limit: int) -> list[JournalEntry]:
        prune = now >= self._pruned_at + PRUNE_EVERY_SECONDS
        if prune:
            self._pruned_at = now

        def lease_heads(db: sqlite3.Connection) -> list[JournalEntry]:
            if prune:
                db.execute(
                    "DELETE FROM journal WHERE status != 'pending' AND created_at < ?",
                    (now - DONE_TTL_SECONDS,),
                )
            lanes = db.execute(
                "SELECT lane FROM lanes WHERE due <= ? ORDER BY due LIMIT ?", (now, limit)
            ).fetchall()
            claimed = []
            for (lane,) in lanes:
                head = db.execute(_HEAD, (lane,)).fetchone()
                if head is None:  # cannot happen through this class; heal a hand-edited file
                    db.execute("DELETE FROM lanes WHERE lane = ?", (lane,))
                    continue
                claimed.append(_lease(db, head["key"], lane, now + lease_seconds))
            return claimed

        return await self._db.run(lease_heads, durable=False)

    async def renew(
        self, leases: Sequence[tuple[str, int]], *, now: float, lease_seconds: float
    ) -> list[str]:
        until = now + lease_seconds
        held = json.dumps(list(leases))

        def extend(db: sqlite3.Connection) -> list[str]:
            renewed = db.execute(_RENEW, (until, held)).fetchall()
            lanes = json.dumps([row["lane"] for row in renewed])
            db.execute(
                "UPDATE lanes SET due = ? WHERE lane IN (SELECT value FROM json_each(?))", (until, lanes)
            )
            kept = {row["key"] for row in renewed}
            return [key for key, _ in leases if key not in kept]

        return await self._db.run(extend, durable=False)

    async def save_reply(self, key: str, parts: Sequence[str], *, token: int) -> None:
        await self._fenced(key, token, "reply_parts = ?", json.dumps(list(parts)))

    async def mark_sent(self, key: str, sent_parts: int, *, token: int) -> None:
        await self._fenced(key, token, "sent_parts = ?", sent_parts)

    async def save_stream(self, key: str, stream: str, *, token: int) -> None:
        await self._fenced(key, token, "stream = ?", stream)

    async def retry_later(self, key: str, *, token: int, not_before: float, error: str) -> None:
        def reschedule(db: sqlite3.Connection) -> None:
            lane = _update(
                db, key, token, "attempts = attempts + 1, not_before = ?, leased_until = 0, error = ?",
                not_before, error,
            )  # fmt: skip
            _set_due(db, lane, not_before)

        await self._db.run(reschedule, durable=False)

    async def release(self, key: str, *, token: int, now: float) -> None:
        def hand_back(db: sqlite3.Connection) -> None:
            _set_due(db, _update(db, key, token, "leased_until = 0"), now)

        await self._db.run(hand_back, durable=False)

    async def finish(
        self, key: str, status: EntryStatus, error: str | None = None, *, token: int
    ) -> str | None:
        def close(db: sqlite3.Connection) -> str | None:
            lane = _update(db, key, token, "status = ?, error = ?, leased_until = 0", status.value, error)
            head = db.execute(_HEAD, (lane,)).fetchone()
            if head is None:
                db.execute("DELETE FROM lanes WHERE lane = ?", (lane,))
                return None
            _set_due(db, lane, head["not_before"])
            return str(head["key"])

        return await self._db.run(close, durable=False)

    async def get(self, key: str) -> JournalEntry | None:
        def select(db: sqlite3.Connection) -> JournalEntry | None:
            row = db.execute("SELECT * FROM journal WHERE key = ?", (key,)).fetchone()
            return _entry(row) if row else None

        return await self._db.run(select, durable=False)

    async def backlog(self) -> int:
        def count(db: sqlite3.Connection) -> int:
            return int(db.execute("SELECT count(*) FROM journal WHERE status = 'pending'").fetchone()[0])

        return await self._db.run(count, durable=False)

    async def load_turns(self, conversation: str, limit: int) -> list[Turn]:
        def select(db: sqlite3.Connection) -> list[Turn]:
            rows = db.execute(
                "SELECT role, content FROM turns WHERE conversation = ? ORDER BY id DESC LIMIT ?",
                (conversation, limit),
            ).fetchall()
            return [Turn(role=row["role"], content=row["content"]) for row in reversed(rows)]

        return await self._db.run(select, durable=False)

    async def append_turns(self, conversation: str, turns: Sequence[Turn]) -> None:
        def insert(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO turns (conversation, role, content) VALUES (?, ?, ?)",
                [(conversation, turn.role, turn.content) for turn in turns],
            )
            db.execute(
                "DELETE FROM turns WHERE conversation = ? AND id <= "
                "(SELECT id FROM turns WHERE conversation = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (conversation, conversation, TURNS_CAP),
            )

        await self._db.run(insert, durable=False)

    async def clear_turns(self, conversation: str) -> None:
        def delete(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM turns WHERE conversation = ?", (conversation,))

        await self._db.run(delete)

    async def close(self) -> None:
        await self._db.close()

    async def _fenced(self, key: str, token: int, assignments: str, *values: Any) -> None:
        await self._db.run(lambda db: _update(db, key, token, assignments, *values))


def _update(db: sqlite3.Connection, key: str, token: int, assignments: str, *values: Any) -> str:
    """Apply `assignments` to an entry still leased with `token`; returns its lane, or raises LeaseLost."""
    row = db.execute(f"UPDATE journal SET {assignments} {_FENCED}", (*values, key, token)).fetchone()
    if row is None:
        raise LeaseLost(key)
    return str(row["lane"])


def _lease(db: sqlite3.Connection, key: str, lane: str, until: float) -> JournalEntry:
    row = db.execute(_LEASE, (until, key)).fetchone()
    _set_due(db, lane, until)
    return _entry(row)


def _set_due(db: sqlite3.Connection, lane: str, due: float) -> None:
    db.execute("UPDATE lanes SET due = ? WHERE lane = ?", (due, lane))


def _upgrade(db: sqlite3.Connection) -> None:
    """Bring a journal from an older botkit up to date: lane and token columns, the lanes index.

    Entries from before lanes share the lane ''. Lanes are filled from the pending entries, each due
    when its head is (its retry time or the end of its lease), so nothing recorded is skipped.
    """
    columns = {row["name"] for row in db.execute("PRAGMA table_info(journal)")}
    if "lane" not in columns:
        db.execute("ALTER TABLE journal ADD COLUMN lane TEXT NOT NULL DEFAULT ''")
    if "token" not in columns:
        db.execute("ALTER TABLE journal ADD COLUMN token INTEGER NOT NULL DEFAULT 0")
    if "stream" not in columns:
        db.execute("ALTER TABLE journal ADD COLUMN stream TEXT")
    had_lanes = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'lanes'").fetchone() is not None
    for statement in _INDEXES.split(";"):  # not executescript(), which would commit midway
        if statement.strip():
            db.execute(statement)
    if not had_lanes:
        db.execute(
            "INSERT INTO lanes (lane, due) SELECT lane, max(not_before, leased_until) FROM journal AS head "
            "WHERE status = 'pending' AND rowid = "
            "(SELECT min(rowid) FROM journal WHERE lane = head.lane AND status = 'pending')"
        )


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
        token=row["token"],
        stream=row["stream"],
    )
