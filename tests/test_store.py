"""Stores: one table of journal and turn behaviours run against every Store, plus SQLite durability."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from botkit.errors import ConfigError
from botkit.store import EntryStatus, InMemoryStore, SQLiteStore, Store, Turn, open_store
from botkit.store.base import DONE_TTL_SECONDS, TURNS_CAP, LeaseLost

T0 = 1700000000.0
LEASE = 30.0


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = _open(request, tmp_path)
    yield opened
    await opened.close()


def _open(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """The store under test; Redis runs against a real, emptied server and skips when there is none."""
    if request.param == "memory":
        return InMemoryStore()
    if request.param == "sqlite":
        return SQLiteStore(tmp_path / "s.db")
    url = request.getfixturevalue("fresh_redis")
    from botkit.store.redis import RedisStore

    return RedisStore(url)


async def _token(store: Store, key: str) -> int:
    """The entry's current lease token, as the worker holding it knows it."""
    entry = await store.get(key)
    assert entry is not None
    return entry.token


async def _claim_keys(store: Store, *, now: float, limit: int = 10) -> list[str]:
    return [entry.key for entry in await store.claim(now=now, lease_seconds=LEASE, limit=limit)]


async def test_record_new_then_duplicate(store: Store) -> None:
    assert await store.record("c2c:k1", '{"n": 1}', now=T0, lane="c2c:k1") is True
    assert await store.record("c2c:k1", '{"n": 2}', now=T0 + 1, lane="c2c:k1") is False

    entry = await store.get("c2c:k1")
    assert entry is not None
    assert entry.payload == '{"n": 1}'
    assert entry.created_at == T0


async def test_recorded_entry_starts_pending(store: Store) -> None:
    await store.record("k", "payload 你好", now=T0, lane="group:@TGS#1")

    entry = await store.get("k")

    assert entry is not None
    assert (entry.key, entry.payload, entry.status) == ("k", "payload 你好", EntryStatus.PENDING)
    assert entry.lane == "group:@TGS#1"
    assert (entry.attempts, entry.not_before, entry.sent_parts) == (0, 0.0, 0)
    assert (entry.reply_parts, entry.error) == (None, None)


async def test_get_unknown_key_is_none(store: Store) -> None:
    assert await store.get("never-recorded") is None


async def test_duplicate_of_finished_entry_is_still_a_duplicate(store: Store) -> None:
    await store.record("k", "p", now=T0, lane="k")
    await store.finish("k", EntryStatus.DONE, token=await _token(store, "k"))

    assert await store.record("k", "p", now=T0 + 1000, lane="k") is False


@pytest.mark.parametrize(
    ("second_claim_at", "claimed_again"),
    [
        (T0, False),
        (T0 + 1, False),
        (T0 + LEASE - 0.001, False),
        (T0 + LEASE, True),
        (T0 + LEASE + 1, True),
        (T0 + 10 * LEASE, True),
    ],
)
async def test_claim_leases_entry(store: Store, second_claim_at: float, claimed_again: bool) -> None:
    await store.record("k", "p", now=T0, lane="k")

    first = await store.claim(now=T0, lease_seconds=LEASE, limit=10)
    second = await _claim_keys(store, now=second_claim_at)

    assert [entry.key for entry in first] == ["k"]
    assert first[0].payload == "p"
    assert second == (["k"] if claimed_again else [])


async def test_claim_returns_entries_oldest_first(store: Store) -> None:
    for key, created in [("b", T0 + 2), ("a", T0 + 1), ("c", T0 + 3)]:
        await store.record(key, key, now=created, lane=key)

    assert await _claim_keys(store, now=T0 + 10) == ["a", "b", "c"]


@pytest.mark.parametrize(("limit", "count"), [(0, 0), (1, 1), (2, 2), (3, 3), (10, 3)])
async def test_claim_respects_limit(store: Store, limit: int, count: int) -> None:
    for n in range(3):
        await store.record(f"k{n}", "p", now=T0 + n, lane=f"k{n}")

    claimed = await _claim_keys(store, now=T0 + 10, limit=limit)

    assert claimed == [f"k{n}" for n in range(count)]


async def test_claims_in_turn_share_out_entries(store: Store) -> None:
    for n in range(3):
        await store.record(f"k{n}", "p", now=T0 + n, lane=f"k{n}")

    first = await _claim_keys(store, now=T0 + 10, limit=2)
    second = await _claim_keys(store, now=T0 + 10, limit=2)
    third = await _claim_keys(store, now=T0 + 10, limit=2)

    assert (first, second, third) == (["k0", "k1"], ["k2"], [])


@pytest.mark.parametrize("status", [EntryStatus.DONE, EntryStatus.FAILED])
async def test_finish_removes_entry_from_claims(store: Store, status: EntryStatus) -> None:
    await store.record("k", "p", now=T0, lane="k")
    await store.claim(now=T0, lease_seconds=LEASE, limit=10)

    await store.finish(
        "k", status, "gave up" if status is EntryStatus.FAILED else None, token=await _token(store, "k")
    )

    assert await _claim_keys(store, now=T0 + 10 * LEASE) == []
    entry = await store.get("k")
    assert entry is not None
    assert entry.status is status
    assert entry.error == ("gave up" if status is EntryStatus.FAILED else None)


async def test_finish_leaves_other_entries_claimable(store: Store) -> None:
    await store.record("done", "p", now=T0, lane="done")
    await store.record("open", "p", now=T0 + 1, lane="open")
    await store.finish("done", EntryStatus.DONE, token=await _token(store, "done"))

    assert await _claim_keys(store, now=T0 + 2) == ["open"]


@pytest.mark.parametrize("status", [EntryStatus.DONE, EntryStatus.FAILED])
async def test_late_retry_does_not_revive_a_finished_entry(store: Store, status: EntryStatus) -> None:
    """A replica whose lease ran out may report a retry after another replica finished the entry."""
    await store.record("k", "p", now=T0, lane="k")
    await store.claim(now=T0, lease_seconds=LEASE, limit=10)
    await store.finish("k", status, token=await _token(store, "k"))

    with pytest.raises(LeaseLost):
        await store.retry_later("k", token=await _token(store, "k"), not_before=T0 + 1, error="late")

    assert await _claim_keys(store, now=T0 + 10 * LEASE) == []
    entry = await store.get("k")
    assert entry is not None
    assert entry.status is status


@pytest.mark.parametrize(
    ("claim_at", "claimed"),
    [(T0 + 5, False), (T0 + 59.9, False), (T0 + 60, True), (T0 + 100, True)],
)
async def test_retry_later_respects_not_before(store: Store, claim_at: float, claimed: bool) -> None:
    await store.record("k", "p", now=T0, lane="k")
    await store.claim(now=T0, lease_seconds=LEASE, limit=10)

    await store.retry_later(
        "k", token=await _token(store, "k"), not_before=T0 + 60, error="ChatAPIError 60008"
    )

    assert await _claim_keys(store, now=claim_at) == (["k"] if claimed else [])


async def test_retry_later_releases_the_lease_and_counts_attempts(store: Store) -> None:
    await store.record("k", "p", now=T0, lane="k")
    await store.claim(now=T0, lease_seconds=LEASE, limit=10)

    await store.retry_later("k", token=await _token(store, "k"), not_before=T0 + 1, error="first")
    again = await store.claim(now=T0 + 1, lease_seconds=LEASE, limit=10)
    await store.retry_later("k", token=await _token(store, "k"), not_before=T0 + 2, error="second")

    assert [entry.attempts for entry in again] == [1]
    entry = await store.get("k")
    assert entry is not None
    assert (entry.attempts, entry.not_before, entry.error) == (2, T0 + 2, "second")
    assert entry.status is EntryStatus.PENDING


LANE = "c2c:@RBT#001:u1"


@pytest.mark.parametrize(
    ("first_then", "claim_at", "claimed"),
    [
        ("still leased", T0 + 11, []),
        ("waiting to retry", T0 + 11, []),
        ("retry due", T0 + 20, ["first"]),
        ("lease expired", T0 + 10 + LEASE, ["first"]),
        ("done", T0 + 11, ["second"]),
        ("failed", T0 + 11, ["second"]),
    ],
)
async def test_an_entry_waits_until_the_older_one_of_its_lane_is_finished(
    store: Store, first_then: str, claim_at: float, claimed: list[str]
) -> None:
    await store.record("first", "p", now=T0, lane=LANE)
    await store.record("second", "p", now=T0 + 1, lane=LANE)

    assert await _claim_keys(store, now=T0 + 10) == ["first"]
    if first_then in ("waiting to retry", "retry due"):
        await store.retry_later(
            "first", token=await _token(store, "first"), not_before=T0 + 20, error="timeout"
        )
    if first_then in ("done", "failed"):
        await store.finish("first", EntryStatus(first_then), token=await _token(store, "first"))

    assert await _claim_keys(store, now=claim_at) == claimed


async def test_entries_of_different_lanes_are_claimed_together(store: Store) -> None:
    recorded = [("u1-a", LANE), ("u2-a", "c2c:@RBT#001:u2"), ("u1-b", LANE), ("g-a", "group:@TGS#1")]
    for n, (key, lane) in enumerate(recorded):
        await store.record(key, "p", now=T0 + n, lane=lane)

    assert await _claim_keys(store, now=T0 + 10) == ["u1-a", "u2-a", "g-a"]


async def test_a_waiting_entry_does_not_use_up_the_claim_limit(store: Store) -> None:
    await store.record("u1-a", "p", now=T0, lane=LANE)
    await store.record("u1-b", "p", now=T0 + 1, lane=LANE)
    await store.record("u2-a", "p", now=T0 + 2, lane="c2c:@RBT#001:u2")

    first = await _claim_keys(store, now=T0 + 10, limit=1)
    second = await _claim_keys(store, now=T0 + 10, limit=1)

    assert (first, second) == (["u1-a"], ["u2-a"])


async def test_entries_of_a_lane_recorded_at_the_same_time_go_in_recording_order(store: Store) -> None:
    await store.record("z", "p", now=T0, lane=LANE)
    await store.record("a", "p", now=T0, lane=LANE)

    assert await _claim_keys(store, now=T0) == ["z"]
    await store.finish("z", EntryStatus.DONE, token=await _token(store, "z"))
    assert await _claim_keys(store, now=T0) == ["a"]


@pytest.mark.parametrize(
    "parts",
    [["one part"], ["first", "second", "third"], ["中文", "emoji 🎉", 'quotes "and" \\ slashes'], []],
)
async def test_save_reply_mark_sent_get_round_trip(store: Store, parts: list[str]) -> None:
    await store.record("k", "p", now=T0, lane="k")

    await store.save_reply("k", parts, token=await _token(store, "k"))
    await store.mark_sent("k", len(parts), token=await _token(store, "k"))

    entry = await store.get("k")
    assert entry is not None
    assert entry.reply_parts == parts
    assert entry.sent_parts == len(parts)


async def test_in_memory_entries_are_independent_copies() -> None:
    store = InMemoryStore()
    await store.record("k", "p", now=T0, lane="k")
    await store.save_reply("k", ["a"], token=await _token(store, "k"))

    entry = await store.get("k")
    assert entry is not None and entry.reply_parts is not None
    entry.reply_parts.append("changed by the caller")

    again = await store.get("k")
    assert again is not None
    assert again.reply_parts == ["a"]


async def test_claim_carries_saved_reply_and_progress(store: Store) -> None:
    await store.record("k", "p", now=T0, lane="k")
    await store.save_reply("k", ["a", "b"], token=await _token(store, "k"))
    await store.mark_sent("k", 1, token=await _token(store, "k"))

    [entry] = await store.claim(now=T0, lease_seconds=LEASE, limit=1)

    assert (entry.reply_parts, entry.sent_parts) == (["a", "b"], 1)


async def test_a_worker_whose_lease_was_taken_over_can_write_nothing(store: Store) -> None:
    await store.record("k", "p", now=T0, lane="k")
    [stale] = await store.claim(now=T0, lease_seconds=LEASE, limit=1)
    [fresh] = await store.claim(now=T0 + LEASE, lease_seconds=LEASE, limit=1)
    assert fresh.token > stale.token

    writes = [
        store.save_reply("k", ["stale"], token=stale.token),
        store.mark_sent("k", 1, token=stale.token),
        store.retry_later("k", token=stale.token, not_before=T0, error="stale"),
        store.release("k", token=stale.token, now=T0),
        store.finish("k", EntryStatus.DONE, token=stale.token),
    ]
    for write in writes:
        with pytest.raises(LeaseLost):
            await write

    entry = await store.get("k")
    assert entry is not None
    assert (entry.status, entry.reply_parts, entry.sent_parts, entry.attempts) == (
        EntryStatus.PENDING, None, 0, 0,
    )  # fmt: skip
    await store.save_reply("k", ["fresh"], token=fresh.token)
    assert await store.finish("k", EntryStatus.DONE, token=fresh.token) is None


@pytest.mark.parametrize(
    ("situation", "leased"),
    [("fresh", True), ("not the lane's head", False), ("already leased", False), ("lease ran out", True)],
)
async def test_lease_takes_one_entry_only_when_it_is_due_and_its_lanes_head(
    store: Store, situation: str, leased: bool
) -> None:
    await store.record("first", "p", now=T0, lane=LANE)
    await store.record("second", "p", now=T0, lane=LANE)
    key, now = "first", T0
    if situation == "not the lane's head":
        key = "second"
    if situation in ("already leased", "lease ran out"):
        assert await store.lease("first", now=T0, lease_seconds=LEASE) is not None
    if situation == "lease ran out":
        now = T0 + LEASE

    entry = await store.lease(key, now=now, lease_seconds=LEASE)

    assert (entry is not None) is leased
    if entry is not None:
        assert (entry.key, entry.payload, entry.leased_until) == (key, "p", now + LEASE)


async def test_lease_of_unknown_or_finished_entries_is_none(store: Store) -> None:
    await store.record("k", "p", now=T0, lane="k")
    await store.finish("k", EntryStatus.DONE, token=0)

    assert await store.lease("k", now=T0, lease_seconds=LEASE) is None
    assert await store.lease("never-recorded", now=T0, lease_seconds=LEASE) is None


async def test_renew_extends_held_leases_and_names_the_lost_ones(store: Store) -> None:
    for key in ("kept", "taken"):
        await store.record(key, "p", now=T0, lane=key)
    _, taken = await store.claim(now=T0, lease_seconds=LEASE, limit=2)
    await store.claim(now=T0 + LEASE, lease_seconds=LEASE, limit=2)  # both run out; both re-leased
    kept_now = await store.get("kept")
    assert kept_now is not None

    lost = await store.renew(
        [("kept", kept_now.token), ("taken", taken.token), ("unknown", 1)],
        now=T0 + LEASE + 1,
        lease_seconds=LEASE,
    )

    assert sorted(lost) == ["taken", "unknown"]
    assert await _claim_keys(store, now=T0 + 2 * LEASE + 0.5) == ["taken"]
    assert await _claim_keys(store, now=T0 + 2 * LEASE + 1) == ["kept"]


async def test_renew_takes_keys_of_any_text_and_many_at_once(store: Store) -> None:
    keys = ["c2c:u😀:@RBT#001:1_2_3", 'c2c:a"b\\c:@RBT#001:4', "group:中文:5", *(f"k{n}" for n in range(300))]
    for key in keys:
        await store.record(key, "p", now=T0, lane=key)
    held = [(entry.key, entry.token) for entry in await store.claim(now=T0, lease_seconds=LEASE, limit=400)]

    assert await store.renew(held, now=T0 + LEASE - 1, lease_seconds=LEASE) == []
    assert await _claim_keys(store, now=T0 + LEASE + 1) == []
    assert len(await store.claim(now=T0 + 2 * LEASE, lease_seconds=LEASE, limit=400)) == len(keys)


async def test_release_hands_the_entry_back_at_once_without_counting_an_attempt(store: Store) -> None:
    await store.record("k", "p", now=T0, lane="k")
    [entry] = await store.claim(now=T0, lease_seconds=LEASE, limit=1)

    await store.release("k", token=entry.token, now=T0 + 1)

    [again] = await store.claim(now=T0 + 1, lease_seconds=LEASE, limit=1)
    assert (again.key, again.attempts) == ("k", 0)


async def test_finish_names_the_lanes_next_entry_which_can_then_be_leased(store: Store) -> None:
    for n, key in enumerate(["a", "b", "c"]):
        await store.record(key, "p", now=T0 + n, lane=LANE)
    chain = []
    head: str | None = "a"
    while head is not None:
        entry = await store.lease(head, now=T0 + 10, lease_seconds=LEASE)
        assert entry is not None
        chain.append(head)
        head = await store.finish(head, EntryStatus.DONE, token=entry.token)

    assert chain == ["a", "b", "c"]


async def test_backlog_counts_pending_entries(store: Store) -> None:
    for n in range(3):
        await store.record(f"k{n}", "p", now=T0, lane=LANE if n < 2 else "other")
    await store.finish("k0", EntryStatus.DONE, token=0)

    assert await store.backlog() == 2


async def test_turns_load_oldest_first(store: Store) -> None:
    await store.append_turns("conv", [Turn("user", "q1"), Turn("assistant", "a1")])
    await store.append_turns("conv", [Turn("user", "q2"), Turn("assistant", "a2")])

    assert await store.load_turns("conv", 10) == [
        Turn("user", "q1"),
        Turn("assistant", "a1"),
        Turn("user", "q2"),
        Turn("assistant", "a2"),
    ]


@pytest.mark.parametrize(
    ("limit", "contents"),
    [
        (0, []),
        (1, ["a2"]),
        (3, ["a1", "q2", "a2"]),
        (4, ["q1", "a1", "q2", "a2"]),
        (100, ["q1", "a1", "q2", "a2"]),
    ],
)
async def test_turns_limit_keeps_the_latest(store: Store, limit: int, contents: list[str]) -> None:
    await store.append_turns(
        "conv", [Turn("user", "q1"), Turn("assistant", "a1"), Turn("user", "q2"), Turn("assistant", "a2")]
    )

    assert [turn.content for turn in await store.load_turns("conv", limit)] == contents


async def test_turns_are_kept_per_conversation(store: Store) -> None:
    await store.append_turns("c2c:@RBT#001:alice", [Turn("user", "alice asks")])
    await store.append_turns("c2c:@RBT#001:bob", [Turn("user", "bob asks")])

    assert await store.load_turns("c2c:@RBT#001:alice", 10) == [Turn("user", "alice asks")]
    assert await store.load_turns("c2c:@RBT#001:bob", 10) == [Turn("user", "bob asks")]
    assert await store.load_turns("c2c:@RBT#001:carol", 10) == []


async def test_sqlite_journal_and_turns_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = SQLiteStore(path)
    await first.record("pending", "p1", now=T0, lane="pending")
    await first.record("done", "p2", now=T0 + 1, lane="done")
    await first.save_reply("pending", ["part 1", "part 2"], token=await _token(first, "pending"))
    await first.mark_sent("pending", 1, token=await _token(first, "pending"))
    await first.retry_later(
        "pending", token=await _token(first, "pending"), not_before=T0 + 5, error="timeout"
    )
    await first.finish("done", EntryStatus.DONE, token=await _token(first, "done"))
    await first.append_turns("conv", [Turn("user", "q"), Turn("assistant", "a")])
    await first.close()

    second = SQLiteStore(path)
    try:
        pending = await second.get("pending")
        done = await second.get("done")
        assert pending is not None
        assert done is not None
        assert (pending.payload, pending.reply_parts, pending.sent_parts) == ("p1", ["part 1", "part 2"], 1)
        assert (pending.attempts, pending.not_before, pending.error) == (1, T0 + 5, "timeout")
        assert done.status is EntryStatus.DONE
        assert await second.record("pending", "again", now=T0 + 10, lane="pending") is False
        assert await _claim_keys(second, now=T0 + 10) == ["pending"]
        assert await second.load_turns("conv", 10) == [Turn("user", "q"), Turn("assistant", "a")]
    finally:
        await second.close()


async def test_sqlite_lease_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = SQLiteStore(path)
    await first.record("k", "p", now=T0, lane="k")
    await first.claim(now=T0, lease_seconds=LEASE, limit=10)
    await first.close()

    second = SQLiteStore(path)
    try:
        assert await _claim_keys(second, now=T0 + 1) == []
        assert await _claim_keys(second, now=T0 + LEASE) == ["k"]
    finally:
        await second.close()


async def test_sqlite_repr_names_the_file(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        assert repr(store) == f"SQLiteStore({str(tmp_path / 's.db')!r})"
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("url", "kind", "file_name"),
    [
        ("memory://", InMemoryStore, None),
        ("sqlite:///relative.db", SQLiteStore, "relative.db"),
        ("bare.db", SQLiteStore, "bare.db"),
        ("sub/dir.db", SQLiteStore, "sub/dir.db"),
    ],
)
async def test_open_store_urls(url: str, kind: type, file_name: str | None) -> None:
    Path("sub").mkdir()

    store = open_store(url)
    try:
        assert isinstance(store, kind)
        if file_name is not None:
            assert Path(file_name).is_file()
    finally:
        await store.close()


async def test_open_store_sqlite_absolute_path(tmp_path: Path) -> None:
    path = tmp_path / "abs" / "s.db"
    path.parent.mkdir()

    store = open_store(f"sqlite:///{path}")
    try:
        assert isinstance(store, SQLiteStore)
        assert path.is_file()
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("mysql://user:pw@db/botkit", "mysql://"),
        ("postgresql://user:pw@db/botkit", "postgresql://"),
        ("sqlite://relative.db", "sqlite://"),
        ("http://example.test/store", "http://"),
    ],
)
def test_open_store_unsupported_scheme(url: str, scheme: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store(url)

    assert "BOTKIT_STORE" in str(caught.value)
    assert scheme in str(caught.value)
    assert "pw" not in str(caught.value)


async def test_sqlite_forgets_finished_entries_after_the_ttl_and_caps_turns(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "prune.db")
    await store.record("old", "{}", now=0.0, lane="old")
    await store.finish("old", EntryStatus.DONE, token=await _token(store, "old"))
    await store.record("pending", "{}", now=0.0, lane="pending")
    await store.claim(now=DONE_TTL_SECONDS + 1.0, lease_seconds=LEASE, limit=0)  # the sweeper's claim prunes
    for index in range(TURNS_CAP + 10):
        await store.append_turns("c", [Turn("user", str(index))])

    assert await store.get("old") is None
    assert await store.get("pending") is not None
    turns = await store.load_turns("c", limit=TURNS_CAP + 10)
    assert len(turns) == TURNS_CAP
    assert turns[-1].content == str(TURNS_CAP + 9)
    await store.close()


async def test_sqlite_journal_from_before_lanes_gains_the_column_and_keeps_its_entries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.executescript(
            "CREATE TABLE journal (key TEXT PRIMARY KEY, payload TEXT NOT NULL, "
            "status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, "
            "not_before REAL NOT NULL DEFAULT 0, leased_until REAL NOT NULL DEFAULT 0, reply_parts TEXT, "
            "sent_parts INTEGER NOT NULL DEFAULT 0, error TEXT, created_at REAL NOT NULL);"
            f"INSERT INTO journal (key, payload, created_at) VALUES ('old', 'p', {T0});"
        )
    old.close()

    store = SQLiteStore(path)
    try:
        await store.record("new", "p", now=T0 + 1, lane=LANE)
        assert await _claim_keys(store, now=T0 + 10) == ["old", "new"]
    finally:
        await store.close()

    reopened = SQLiteStore(path)  # an upgraded file opens as any other
    try:
        old_entry, new_entry = await reopened.get("old"), await reopened.get("new")
        assert old_entry is not None and new_entry is not None
        assert (old_entry.lane, new_entry.lane) == ("", LANE)
    finally:
        await reopened.close()


async def test_every_statement_of_a_message_s_life_on_sqlite_seeks_an_index(tmp_path: Path) -> None:
    """Claiming, leasing, renewing, finishing and the conversation's turns never scan a table or
    sort: each statement the store runs for a message is an index seek, whatever the backlog."""
    store = SQLiteStore(tmp_path / "plans.db")
    connection: sqlite3.Connection = store._db._db  # the store's own connection, to trace it
    statements: list[str] = []
    connection.set_trace_callback(statements.append)
    try:
        assert await store.record("k1", "{}", now=100.0, lane="L")
        assert await store.record("k2", "{}", now=100.0, lane="L")
        entry = await store.lease("k1", now=100.0, lease_seconds=10)
        assert entry is not None
        assert await store.renew([("k1", entry.token)], now=101.0, lease_seconds=10) == []
        await store.load_turns("c", 20)
        await store.save_reply("k1", ["a"], token=entry.token)
        await store.append_turns("c", [Turn("user", "q"), Turn("assistant", "a")])
        await store.mark_sent("k1", 1, token=entry.token)
        assert await store.finish("k1", EntryStatus.DONE, token=entry.token) == "k2"
        [claimed] = await store.claim(now=200.0 + DONE_TTL_SECONDS, lease_seconds=10, limit=10)
        await store.retry_later("k2", token=claimed.token, not_before=300.0, error="e")
    finally:
        connection.set_trace_callback(None)
    plans = {}
    for statement in set(statements):
        if statement.split()[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE"}:
            rows = connection.execute(f"EXPLAIN QUERY PLAN {statement}").fetchall()
            plans[statement] = [row[3] for row in rows]
    await store.close()

    assert len(plans) >= 12
    for statement, plan in plans.items():
        for step in plan:
            assert "TEMP B-TREE" not in step, (statement, plan)
            table_scan = step.startswith("SCAN") and "USING" not in step and "json_each" not in step
            assert not table_scan, (statement, plan)
