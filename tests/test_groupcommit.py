"""Group commit: concurrent operations share transactions, and one failing operation fails alone."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from botkit.store.groupcommit import GroupCommitter


@pytest.fixture
def committer(tmp_path: Path) -> Iterator[GroupCommitter]:
    db = sqlite3.connect(tmp_path / "g.db", check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    committer = GroupCommitter(db)
    yield committer
    committer.shutdown()
    db.close()


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


async def test_only_transactions_holding_a_durable_operation_wait_for_the_disk(
    committer: GroupCommitter,
) -> None:
    levels: list[str] = []
    await committer.run_alone(lambda db: db.set_trace_callback(levels.append))

    await committer.run(insert(1))
    await committer.run(insert(2), durable=False)
    await asyncio.gather(committer.run(insert(3), durable=False), committer.run(insert(4)))

    pragmas = [statement for statement in levels if statement.startswith("PRAGMA synchronous")]
    assert pragmas == ["PRAGMA synchronous=FULL", "PRAGMA synchronous=NORMAL", "PRAGMA synchronous=FULL"]
