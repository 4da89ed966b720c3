"""Journal migrations the stores run when they open; each is idempotent and safe to run at every start.

`rekey`: dedupe keys used to be `c2c:{MsgKey}`, but a MsgKey is unique only within one
conversation, so two users' messages could share a key (and the second went unanswered). Entries
recorded before are given the key their stored payload has now (sender + robot + MsgKey, see
`C2CMessage.dedupe_key`), so a late repeat of one of them is still recognised as a duplicate.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator

from pydantic import ValidationError

from botkit.callbacks import callback_adapter

log = logging.getLogger("botkit.store.migrations")

REKEY = "rekey-dedupe-sender-recipient"


def current_key(payload: str) -> str | None:
    """The dedupe key a stored payload has today, or None when it no longer parses."""
    try:
        return callback_adapter.validate_json(payload).dedupe_key
    except (ValidationError, ValueError):
        return None


def renames(rows: Iterable[tuple[str, str]], taken: set[str]) -> Iterator[tuple[str, str]]:
    """(old, new) for each (key, payload) whose key is out of date and whose new key is free."""
    for key, payload in rows:
        new = current_key(payload)
        if new is None or new == key or new in taken:
            continue
        taken.add(new)
        yield key, new


def rekey_sqlite(db: sqlite3.Connection) -> int:
    """Rekey a SQLite journal in one transaction, once; returns how many entries changed."""
    db.execute("CREATE TABLE IF NOT EXISTS botkit_migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("SELECT 1 FROM botkit_migrations WHERE name = ?", (REKEY,)).fetchone():
            db.execute("COMMIT")
            return 0
        rows = [(row[0], row[1]) for row in db.execute("SELECT key, payload FROM journal")]
        moves = list(renames(rows, {key for key, _ in rows}))
        db.executemany("UPDATE journal SET key = ? WHERE key = ?", [(new, old) for old, new in moves])
        db.execute("INSERT INTO botkit_migrations VALUES (?, julianday('now'))", (REKEY,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    if moves:
        log.info("rekeyed %d journal entries to sender + recipient dedupe keys", len(moves))
    return len(moves)


# KEYS: old entry, new entry, due set, lane list (or the due set again when the entry has no lane).
# ARGV: old key, new key. Moves the hash (its TTL too), its place in the lane, and its member of the
# due set that journals from before the `ready` set of lanes kept (RedisStore upgrades those later).
_REDIS_RENAME = """
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
local score = redis.call('ZSCORE', KEYS[3], ARGV[1])
if score then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[3], score, ARGV[2])
end
if KEYS[4] ~= KEYS[3] then
  local at = redis.call('LPOS', KEYS[4], ARGV[1])
  if at then redis.call('LSET', KEYS[4], at, ARGV[2]) end
end
return 1
"""


def rekey_redis(url: str, prefix: str) -> int:
    """Rekey a Redis journal once (a marker in `{prefix}migrations` says it ran); returns the count.

    Each entry moves atomically in one script; an interrupted run is finished by the next start.
    An unreachable Redis is logged and skipped: the store then fails on first use, as before.
    """
    import redis

    try:
        # Bounded: a Redis that drops packets must not hang the start.
        with redis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=5.0, socket_timeout=30.0
        ) as client:
            if client.sismember(f"{prefix}migrations", REKEY):
                return 0
            rename = client.register_script(_REDIS_RENAME)
            entries = f"{prefix}entry:"
            moved = 0
            for name in client.scan_iter(match=f"{entries}*", count=500):
                fields = client.hmget(name, ["payload", "lane"])
                old = name.removeprefix(entries)
                new = current_key(fields[0]) if fields[0] is not None else None
                if new is None or new == old:
                    continue
                lane = f"{prefix}lane:{fields[1]}" if fields[1] is not None else f"{prefix}due"
                keys = [name, f"{entries}{new}", f"{prefix}due", lane]
                moved += int(rename(keys=keys, args=[old, new]))
            client.sadd(f"{prefix}migrations", REKEY)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        log.warning("cannot rekey the Redis journal now (%s); the next start tries again", exc)
        return 0
    if moved:
        log.info("rekeyed %d journal entries to sender + recipient dedupe keys", moved)
    return moved
