"""Everything the fake backend remembers, in SQLite, so a restart keeps it.

One lock guards one connection: the FastAPI app and the UI threads may call in at once. Methods are
synchronous and take times as arguments (Unix seconds), so the caller's injected clock rules.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import fields, replace
from typing import Any

from botkit.elements import MsgBody, body_text, dump_body, msg_body_adapter
from sandbox.models import (
    Account,
    C2CRecord,
    Conversation,
    Group,
    GroupRecord,
    SandboxConfig,
    content_crc,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS config (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    user_id TEXT PRIMARY KEY, nick TEXT NOT NULL, face_url TEXT NOT NULL,
    is_robot INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS groups (
    group_id TEXT PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS members (
    group_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (group_id, user_id));
CREATE TABLE IF NOT EXISTS c2c_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, from_account TEXT NOT NULL, to_account TEXT NOT NULL,
    msg_seq INTEGER NOT NULL, msg_random INTEGER NOT NULL, msg_time INTEGER NOT NULL,
    msg_key TEXT NOT NULL, body TEXT NOT NULL, cloud_custom_data TEXT NOT NULL,
    flag INTEGER NOT NULL, online_only INTEGER NOT NULL, crc INTEGER NOT NULL,
    sender_synced INTEGER NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS c2c_pair ON c2c_messages (from_account, to_account, msg_time);
CREATE TABLE IF NOT EXISTS group_messages (
    group_id TEXT NOT NULL, msg_seq INTEGER NOT NULL, random INTEGER NOT NULL,
    from_account TEXT NOT NULL, msg_time INTEGER NOT NULL, body TEXT NOT NULL,
    cloud_custom_data TEXT NOT NULL, priority TEXT NOT NULL, online_only INTEGER NOT NULL,
    crc INTEGER NOT NULL, PRIMARY KEY (group_id, msg_seq));
CREATE TABLE IF NOT EXISTS streams (stream_id TEXT PRIMARY KEY, data TEXT NOT NULL);
"""
# Columns added after the first release, for data dirs made before them: (table, column, definition).
_ADDED_COLUMNS = (("c2c_messages", "sender_synced", "INTEGER NOT NULL DEFAULT 1"),)


def _dump(body: MsgBody) -> str:
    return json.dumps(dump_body(body), ensure_ascii=False)


def _load(text: str) -> MsgBody:
    return msg_body_adapter.validate_python(json.loads(text))


def _record_values(record: C2CRecord | GroupRecord) -> dict[str, Any]:
    """A record as column values: the body as JSON, plus its content CRC for de-dup lookups."""
    values = {field.name: getattr(record, field.name) for field in fields(record)}
    return values | {"body": _dump(record.body), "crc": content_crc(record.body)}


def _row_values(row: sqlite3.Row) -> dict[str, Any]:
    values = {name: value for name, value in dict(row).items() if name not in ("id", "crc")}
    return values | {"body": _load(row["body"]), "online_only": bool(row["online_only"])}


def _c2c(row: sqlite3.Row) -> C2CRecord:
    return C2CRecord(**_row_values(row) | {"sender_synced": bool(row["sender_synced"])})


def _add_missing_columns(db: sqlite3.Connection) -> None:
    for table, column, definition in _ADDED_COLUMNS:
        known = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in known:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def _group_msg(row: sqlite3.Row) -> GroupRecord:
    return GroupRecord(**_row_values(row))


def _insert(db: sqlite3.Connection, table: str, values: dict[str, Any]) -> None:
    marks = ", ".join("?" for _ in values)
    db.execute(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({marks})", tuple(values.values()))


def _account(row: sqlite3.Row) -> Account:
    return Account(row["user_id"], row["nick"], row["face_url"], bool(row["is_robot"]), bool(row["deleted"]))


class SandboxState:
    """Accounts, robots, groups and message history of the fake app, in one SQLite database.

    `path` is a file (kept across restarts) or ":memory:". Configure it once with `set_config`.
    """

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        with self._lock, self._db:
            self._db.executescript(_SCHEMA)
            _add_missing_columns(self._db)

    def __repr__(self) -> str:
        return f"SandboxState(path={self.path!r})"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one statement in its own transaction; the number of rows it changed."""
        with self._lock, self._db:
            return self._db.execute(sql, params).rowcount

    # -- config ---------------------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        return bool(self._rows("SELECT 1 FROM config"))

    @property
    def config(self) -> SandboxConfig:
        rows = self._rows("SELECT data FROM config")
        if not rows:
            raise LookupError("the sandbox is not configured: call SandboxState.set_config first")
        return SandboxConfig.model_validate_json(rows[0]["data"])

    def set_config(self, config: SandboxConfig) -> None:
        """Store the app config (secrets included: it is a local fake) and import the admin account."""
        data = config.model_dump(mode="json")
        data["key"] = config.key.get_secret_value()
        if config.callback_token is not None:
            data["callback_token"] = config.callback_token.get_secret_value()
        self._write("INSERT OR REPLACE INTO config (id, data) VALUES (1, ?)", (json.dumps(data),))
        self.import_account(config.admin)

    # -- accounts and robots --------------------------------------------------------------------

    def import_account(self, user_id: str, nick: str = "", face_url: str = "") -> None:
        """Create an account, or refresh the nick and face of an existing one; importing is idempotent."""
        self._write(
            "INSERT INTO accounts (user_id, nick, face_url, is_robot) VALUES (?, ?, ?, 0) "
            "ON CONFLICT (user_id) DO UPDATE SET nick = excluded.nick, face_url = excluded.face_url",
            (user_id, nick, face_url),
        )

    def account(self, user_id: str) -> Account | None:
        rows = self._rows("SELECT * FROM accounts WHERE user_id = ?", (user_id,))
        return _account(rows[0]) if rows else None

    def account_exists(self, user_id: str) -> bool:
        """True for imported accounts and live robots; a deleted robot no longer exists."""
        found = self.account(user_id)
        return found is not None and not found.deleted

    def accounts(self) -> list[Account]:
        return [_account(row) for row in self._rows("SELECT * FROM accounts ORDER BY user_id")]

    def create_robot(self, user_id: str, nick: str = "", face_url: str = "") -> None:
        self._write(
            "INSERT INTO accounts (user_id, nick, face_url, is_robot) VALUES (?, ?, ?, 1)",
            (user_id, nick, face_url),
        )

    def delete_robot(self, user_id: str) -> bool:
        """Mark a robot deleted (its UserID stays taken); False when there is no live robot by that ID."""
        changed = self._write(
            "UPDATE accounts SET deleted = 1 WHERE user_id = ? AND is_robot = 1 AND deleted = 0", (user_id,)
        )
        return changed > 0

    def robots(self) -> list[Account]:
        """Live robots, oldest first."""
        rows = self._rows("SELECT * FROM accounts WHERE is_robot = 1 AND deleted = 0 ORDER BY rowid")
        return [_account(row) for row in rows]

    # -- groups ---------------------------------------------------------------------------------

    def create_group(self, group: Group, members: list[str]) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO groups (group_id, type, name, owner) VALUES (?, ?, ?, ?)",
                (group.group_id, group.type, group.name, group.owner),
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO members (group_id, user_id) VALUES (?, ?)",
                [(group.group_id, member) for member in members],
            )

    def group(self, group_id: str) -> Group | None:
        rows = self._rows("SELECT * FROM groups WHERE group_id = ?", (group_id,))
        return Group(**dict(rows[0])) if rows else None

    def groups(self) -> list[Group]:
        return [Group(**dict(row)) for row in self._rows("SELECT * FROM groups ORDER BY rowid")]

    def add_member(self, group_id: str, user_id: str) -> bool:
        """Add one member; False when they already were one."""
        changed = self._write(
            "INSERT OR IGNORE INTO members (group_id, user_id) VALUES (?, ?)", (group_id, user_id)
        )
        return changed > 0

    def members(self, group_id: str) -> list[str]:
        rows = self._rows("SELECT user_id FROM members WHERE group_id = ? ORDER BY rowid", (group_id,))
        return [row["user_id"] for row in rows]

    def is_member(self, group_id: str, user_id: str) -> bool:
        return bool(
            self._rows("SELECT 1 FROM members WHERE group_id = ? AND user_id = ?", (group_id, user_id))
        )

    # -- 1:1 messages ---------------------------------------------------------------------------

    def store_c2c(self, record: C2CRecord) -> None:
        with self._lock, self._db:
            _insert(self._db, "c2c_messages", _record_values(record))

    def find_c2c_duplicate(
        self, from_account: str, msg_seq: int, msg_random: int, body: MsgBody, *, since: int
    ) -> C2CRecord | None:
        """The message this one repeats: same sender, MsgSeq, MsgRandom and content, since `since`."""
        rows = self._rows(
            "SELECT * FROM c2c_messages WHERE from_account = ? AND msg_seq = ? AND msg_random = ? "
            "AND crc = ? AND msg_time >= ? ORDER BY id DESC LIMIT 1",
            (from_account, msg_seq, msg_random, content_crc(body), since),
        )
        return _c2c(rows[0]) if rows else None

    def c2c_message(self, from_account: str, to_account: str, msg_key: str) -> C2CRecord | None:
        rows = self._rows(
            "SELECT * FROM c2c_messages WHERE from_account = ? AND to_account = ? AND msg_key = ? "
            "ORDER BY id DESC LIMIT 1",
            (from_account, to_account, msg_key),
        )
        return _c2c(rows[0]) if rows else None

    def c2c_history(
        self,
        a: str,
        b: str,
        *,
        min_time: int = 0,
        max_time: int = 2**63 - 1,
        before_key: str | None = None,
        limit: int = 100,
    ) -> list[C2CRecord]:
        """Messages between `a` and `b` in the time range as `a`'s roaming history has them, newest first.

        `a`'s own messages sent with `SyncOtherMachine: 2` are left out. `before_key` continues a
        page: only messages older than the one with that MsgKey.
        """
        pair = "((from_account = ? AND to_account = ?) OR (from_account = ? AND to_account = ?))"
        params: list[Any] = [a, b, b, a, a, min_time, max_time]
        where = (
            f"{pair} AND online_only = 0 AND NOT (from_account = ? AND sender_synced = 0) "
            "AND msg_time BETWEEN ? AND ?"
        )
        if before_key is not None:
            where += f" AND id < (SELECT COALESCE(MAX(id), 0) FROM c2c_messages WHERE msg_key = ? AND {pair})"
            params += [before_key, a, b, b, a]
        rows = self._rows(
            f"SELECT * FROM c2c_messages WHERE {where} ORDER BY msg_time DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [_c2c(row) for row in rows]

    def modify_c2c(
        self, record: C2CRecord, *, body: MsgBody | None = None, cloud_custom_data: str | None = None
    ) -> None:
        """Overwrite the body and/or custom data of a stored 1:1 message."""
        new_body = record.body if body is None else body
        new_data = record.cloud_custom_data if cloud_custom_data is None else cloud_custom_data
        self._write(
            "UPDATE c2c_messages SET body = ?, cloud_custom_data = ? "
            "WHERE from_account = ? AND to_account = ? AND msg_key = ?",
            (_dump(new_body), new_data, record.from_account, record.to_account, record.msg_key),
        )

    # -- group messages -------------------------------------------------------------------------

    def store_group(self, record: GroupRecord) -> GroupRecord:
        """Store a group message under the group's next MsgSeq (from 1) and return it with that seq."""
        with self._lock, self._db:
            row = self._db.execute(
                "SELECT COALESCE(MAX(msg_seq), 0) + 1 FROM group_messages WHERE group_id = ?",
                (record.group_id,),
            ).fetchone()
            stored = replace(record, msg_seq=int(row[0]))
            _insert(self._db, "group_messages", _record_values(stored))
        return stored

    def find_group_duplicate(self, group_id: str, random: int, *, since: int) -> GroupRecord | None:
        """The group message this one repeats: the same Random, sent at `since` or later, whatever
        its content (Tencent's send_group_msg: the same Random within five minutes is a repeat)."""
        rows = self._rows(
            "SELECT * FROM group_messages WHERE group_id = ? AND random = ? AND msg_time >= ? "
            "ORDER BY msg_seq DESC LIMIT 1",
            (group_id, random, since),
        )
        return _group_msg(rows[0]) if rows else None

    def group_message(self, group_id: str, msg_seq: int) -> GroupRecord | None:
        rows = self._rows(
            "SELECT * FROM group_messages WHERE group_id = ? AND msg_seq = ?", (group_id, msg_seq)
        )
        return _group_msg(rows[0]) if rows else None

    def group_history(
        self, group_id: str, *, up_to_seq: int | None = None, limit: int = 20
    ) -> list[GroupRecord]:
        """Stored messages of a group with MsgSeq ≤ `up_to_seq` (all when None), newest first."""
        rows = self._rows(
            "SELECT * FROM group_messages WHERE group_id = ? AND msg_seq <= ? AND online_only = 0 "
            "ORDER BY msg_seq DESC LIMIT ?",
            (group_id, up_to_seq if up_to_seq is not None else 2**63 - 1, limit),
        )
        return [_group_msg(row) for row in rows]

    def modify_group(
        self, record: GroupRecord, *, body: MsgBody | None = None, cloud_custom_data: str | None = None
    ) -> None:
        """Overwrite the body and/or custom data of a stored group message."""
        new_body = record.body if body is None else body
        new_data = record.cloud_custom_data if cloud_custom_data is None else cloud_custom_data
        self._write(
            "UPDATE group_messages SET body = ?, cloud_custom_data = ? WHERE group_id = ? AND msg_seq = ?",
            (_dump(new_body), new_data, record.group_id, record.msg_seq),
        )

    # -- streaming replies (sandbox/streams.py owns the data's format) ---------------------------

    def save_stream(self, stream_id: str, data: str) -> None:
        """Store (or replace) the bookkeeping of one streamed message."""
        self._write("INSERT OR REPLACE INTO streams (stream_id, data) VALUES (?, ?)", (stream_id, data))

    def stream_data(self, stream_id: str) -> str | None:
        rows = self._rows("SELECT data FROM streams WHERE stream_id = ?", (stream_id,))
        return str(rows[0]["data"]) if rows else None

    # -- views for the UI -----------------------------------------------------------------------

    def list_conversations(self, user: str) -> list[Conversation]:
        """The user's 1:1 peers and groups with their last message, most recent first."""
        found: list[Conversation] = []
        peers = self._rows(
            "SELECT DISTINCT CASE WHEN from_account = ? THEN to_account ELSE from_account END AS peer "
            "FROM c2c_messages WHERE from_account = ? OR to_account = ?",
            (user, user, user),
        )
        for row in peers:
            last = self.c2c_history(user, row["peer"], limit=1)
            if last:
                found.append(Conversation("c2c", row["peer"], body_text(last[0].body), last[0].msg_time))
        groups = self._rows("SELECT group_id FROM members WHERE user_id = ?", (user,))
        for row in groups:
            recent = self.group_history(row["group_id"], limit=1)
            text, when = (body_text(recent[0].body), recent[0].msg_time) if recent else ("", 0)
            found.append(Conversation("group", row["group_id"], text, when))
        return sorted(found, key=lambda conversation: conversation.last_time, reverse=True)
