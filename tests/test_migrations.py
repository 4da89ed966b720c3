"""Journals from before sender + recipient dedupe keys are rekeyed when a store opens, once."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from botkit.callbacks import parse_callback
from botkit.store import EntryStatus, SQLiteStore
from botkit.store.migrations import current_key, rekey_sqlite
from tests.support import c2c_body, group_body

C2C = "Bot.OnC2CMessage"
ALICE = c2c_body("from alice", sender="alice").decode()
BOB = c2c_body("from bob", sender="bob").decode()
OLD_KEY = "c2c:1_918273645_1700000101"


async def _old_journal(path: Path) -> None:
    """A journal as the old code left it: one entry under `c2c:{MsgKey}`, one group entry."""
    store = SQLiteStore(path)
    await store.record(OLD_KEY, ALICE, now=1.0, lane="c2c:@RBT#001:alice")
    await store.finish(OLD_KEY, EntryStatus.DONE, token=0)
    await store.record("group:@TGS#2ABCDEFGH:42", group_body().decode(), now=2.0, lane="group:@TGS#2ABCDEFGH")
    await store.record("c2c:unreadable", '{"not": "a callback"}', now=3.0, lane="")
    await store.close()
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM botkit_migrations")  # as if the migration had never run


async def test_old_c2c_keys_are_rekeyed_from_the_payload_and_repeats_stay_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    await _old_journal(path)

    store = SQLiteStore(path)

    new_key = parse_callback(C2C, ALICE.encode()).dedupe_key
    assert new_key == "c2c:alice:@RBT#001:1_918273645_1700000101"
    assert await store.get(OLD_KEY) is None
    moved = await store.get(new_key)
    assert moved is not None
    assert (moved.status, moved.payload) == (EntryStatus.DONE, ALICE)
    assert await store.get("group:@TGS#2ABCDEFGH:42") is not None
    assert await store.get("c2c:unreadable") is not None, "an unreadable entry is left as it was"
    # A late repeat of alice's message is still a duplicate; bob's, with the same MsgKey, is new.
    assert not await store.record(new_key, ALICE, now=4.0, lane="c2c:@RBT#001:alice")
    bob_key = parse_callback(C2C, BOB.encode()).dedupe_key
    assert await store.record(bob_key, BOB, now=5.0, lane="c2c:@RBT#001:bob")
    await store.close()


async def test_the_rekey_runs_once_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    await _old_journal(path)
    with sqlite3.connect(path, isolation_level=None) as db:
        assert rekey_sqlite(db) == 1
        assert rekey_sqlite(db) == 0
        db.execute("DELETE FROM botkit_migrations")
        assert rekey_sqlite(db) == 0, "already rekeyed entries keep their key"
        keys = sorted(row[0] for row in db.execute("SELECT key FROM journal"))
    assert keys == ["c2c:alice:@RBT#001:1_918273645_1700000101", "c2c:unreadable", "group:@TGS#2ABCDEFGH:42"]


async def test_a_failed_rekey_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    await _old_journal(path)
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute(
            "CREATE TRIGGER refuse BEFORE UPDATE OF key ON journal BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
        with pytest.raises(sqlite3.IntegrityError):
            rekey_sqlite(db)
        assert [row[0] for row in db.execute("SELECT key FROM journal WHERE key = ?", (OLD_KEY,))]
        assert db.execute("SELECT COUNT(*) FROM botkit_migrations").fetchone() == (0,)


def test_current_key_of_an_unreadable_payload_is_none() -> None:
    assert current_key("{}") is None
    assert current_key("not json") is None
    assert current_key(json.dumps(json.loads(ALICE))) == "c2c:alice:@RBT#001:1_918273645_1700000101"


async def test_old_redis_keys_are_rekeyed_in_their_lane_which_stays_due(fresh_redis: str) -> None:
    import redis

    from botkit.store.redis import RedisStore

    old = RedisStore(fresh_redis)
    await old.record(OLD_KEY, ALICE, now=1.0, lane="c2c:@RBT#001:alice")
    await old.record("c2c:unreadable", "{}", now=2.0, lane="x")
    await old.close()
    with redis.Redis.from_url(fresh_redis, decode_responses=True) as client:
        client.delete("botkit:migrations")

    store = RedisStore(fresh_redis)

    new_key = "c2c:alice:@RBT#001:1_918273645_1700000101"
    assert await store.get(OLD_KEY) is None
    moved = await store.get(new_key)
    assert moved is not None and moved.payload == ALICE
    with redis.Redis.from_url(fresh_redis, decode_responses=True) as client:
        assert client.zscore("botkit:ready", "c2c:@RBT#001:alice") == 1.0  # the lane, due as before
        assert client.lrange("botkit:lane:c2c:@RBT#001:alice", 0, -1) == [new_key]
        assert client.sismember("botkit:migrations", "rekey-dedupe-sender-recipient")
    claimed = await store.claim(now=10.0, lease_seconds=60.0, limit=5)
    assert [entry.key for entry in claimed] == [new_key, "c2c:unreadable"]
    assert not await store.record(new_key, ALICE, now=11.0, lane="c2c:@RBT#001:alice")
    await store.close()


def test_an_unreachable_redis_is_not_rekeyed_and_does_not_fail_the_open() -> None:
    pytest.importorskip("redis")
    from botkit.store.redis import RedisStore

    RedisStore("redis://127.0.0.1:9/0")
