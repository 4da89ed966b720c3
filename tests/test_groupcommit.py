"""Group commit: concurrent operations share transactions and fsyncs, one failing operation fails
alone, and a durable operation returns only once the WAL is on disk."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from botkit.store.groupcommit import CHECKPOINT_EVERY_COMMITS, INLINE_SYNC_MAX, GroupCommitter
from tests.support import loop_turns


def open_db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY, pad TEXT)")
    return db


@pytest.fixture
async def committer(tmp_path: Path) -> AsyncIterator[GroupCommitter]:
    committer = GroupCommitter(open_db(tmp_path / "g.db"))
    yield committer
    await committer.close()


def insert(n: int) -> Callable[[sqlite3.Connection], int]:
    def run(db: sqlite3.Connection) -> int:
        return db.execute("INSERT INTO t (n) VALUES (?)", (n,)).rowcount

    return run


async def test_concurrent_writes_are_coalesced_into_few_transactions(committer: GroupCommitter) -> None:
    results = await asyncio.gather(*(committer.run(insert(n)) for n in range(500)))

    assert results == [1] * 500
    assert committer.transactions <= 10
    count = await committer.run(lambda db: db.execute("SELECT count(*) FROM t").fetchone()[0])
    assert count == 500


async def test_a_lone_write_commits_without_waiting_for_company(committer: GroupCommitter) -> None:
    assert await committer.run(insert(1)) == 1

    assert committer.transactions == 1


async def test_a_failing_operation_fails_alone_and_its_writes_roll_back(committer: GroupCommitter) -> None:
    def insert_then_fail(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO t (n) VALUES (100)")
        raise ValueError("this operation fails")

    outcomes = await asyncio.gather(
        committer.run(insert(1)),
        committer.run(insert_then_fail),
        committer.run(insert(2)),
        return_exceptions=True,
    )

    assert outcomes[0] == 1 and outcomes[2] == 1
    assert isinstance(outcomes[1], ValueError)
    rows = await committer.run(lambda db: [row[0] for row in db.execute("SELECT n FROM t ORDER BY n")])
    assert rows == [1, 2]


async def test_a_lone_failing_operation_rolls_back_its_writes(committer: GroupCommitter) -> None:
    def insert_then_fail(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO t (n) VALUES (100)")
        raise ValueError("this operation fails")

    with pytest.raises(ValueError, match="this operation fails"):
        await committer.run(insert_then_fail)

    assert await committer.run(insert(1)) == 1
    rows = await committer.run(lambda db: [row[0] for row in db.execute("SELECT n FROM t ORDER BY n")])
    assert rows == [1]


class GatedSync:
    """An fsync that waits until the test lets it finish, noting the files it flushed."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.go = threading.Event()
        self.files: list[str] = []

    def __call__(self, fd: int) -> None:
        self.files.append(os.readlink(f"/proc/self/fd/{fd}"))
        self.started.set()
        assert self.go.wait(10)
        os.fsync(fd)


async def test_durable_operations_return_only_after_the_wal_is_flushed_on_the_thread(
    tmp_path: Path,
) -> None:
    sync = GatedSync()
    committer = GroupCommitter(open_db(tmp_path / "g.db"), sync=sync)
    try:
        # More than a lone write or two: the loop is busy, so the fsync goes to the worker thread.
        durable = asyncio.gather(*(committer.run(insert(n)) for n in range(INLINE_SYNC_MAX + 1)))
        assert await asyncio.to_thread(sync.started.wait, 10)
        quick = await committer.run(insert(100), durable=False)  # committed meanwhile, no disk wait

        assert quick == 1 and not durable.done()
        sync.go.set()
        assert await durable == [1] * (INLINE_SYNC_MAX + 1)
        assert sync.files == [str(tmp_path / "g.db-wal")]
    finally:
        sync.go.set()
        await committer.close()


async def test_a_lone_durable_write_is_flushed_on_the_event_loop_before_it_returns(tmp_path: Path) -> None:
    threads: list[str] = []

    def sync(fd: int) -> None:
        threads.append(threading.current_thread().name)
        os.fsync(fd)

    committer = GroupCommitter(open_db(tmp_path / "g.db"), sync=sync)
    try:
        assert await committer.run(insert(1)) == 1
        assert threads == [threading.current_thread().name] and committer.syncs == 1
    finally:
        await committer.close()


async def test_only_durable_operations_wait_for_an_fsync_and_they_share_it(tmp_path: Path) -> None:
    flushed: list[int] = []
    committer = GroupCommitter(open_db(tmp_path / "g.db"), sync=flushed.append)
    try:
        await asyncio.gather(*(committer.run(insert(n), durable=False) for n in range(100)))
        assert committer.syncs == 0 and flushed == []

        await asyncio.gather(*(committer.run(insert(n)) for n in range(100, 300)))
        assert committer.syncs == 1 and len(flushed) == 1
    finally:
        await committer.close()


async def test_after_a_failed_fsync_no_write_is_called_durable_until_a_restart(tmp_path: Path) -> None:
    failures = [OSError(5, "Input/output error")]

    def broken_disk(fd: int) -> None:  # fails once; a later flush "succeeds", which proves nothing
        if failures:
            raise failures.pop()
        os.fsync(fd)

    committer = GroupCommitter(open_db(tmp_path / "g.db"), sync=broken_disk)
    try:
        with pytest.raises(OSError, match="Input/output error"):
            await committer.run(insert(1))
        assert await committer.run(insert(2), durable=False) == 1
        with pytest.raises(OSError, match="Input/output error"):
            await committer.run(insert(3))
    finally:
        await committer.close()


async def test_a_write_lock_held_by_another_process_is_waited_for_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    committer = GroupCommitter(open_db(tmp_path / "g.db"))
    other = sqlite3.connect(tmp_path / "g.db", isolation_level=None)  # as another process would
    try:
        async with loop_turns(0.01) as ticks:
            other.execute("BEGIN IMMEDIATE")
            asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
            assert await committer.run(insert(1)) == 1  # once the other writer let go
            assert ticks() >= 10  # the loop ran all the while
    finally:
        other.close()
        await committer.close()


async def test_the_wal_is_checkpointed_off_the_event_loop_and_stays_bounded(tmp_path: Path) -> None:
    committer = GroupCommitter(open_db(tmp_path / "g.db"))
    page = "x" * 3000  # about a page of WAL per commit
    try:
        for n in range(CHECKPOINT_EVERY_COMMITS * 4):

            def insert_page(db: sqlite3.Connection, n: int = n) -> None:
                db.execute("INSERT INTO t VALUES (?, ?)", (n, page))

            await committer.run(insert_page)
    finally:
        await committer.close()

    wal = tmp_path / "g.db-wal"
    unbounded = CHECKPOINT_EVERY_COMMITS * 4 * 4096
    assert not wal.exists() or wal.stat().st_size < unbounded / 2
    check = sqlite3.connect(tmp_path / "g.db")
    assert check.execute("SELECT count(*) FROM t").fetchone()[0] == CHECKPOINT_EVERY_COMMITS * 4
