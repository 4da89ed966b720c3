"""Group commit for SQLite: store operations from many tasks share one transaction on one thread.

Operations queue up while the previous transaction commits and then run together, each inside its
own savepoint so one failing operation fails alone. Under load one fsync serves hundreds of
journal writes; with a single caller nothing waits, since the batch is just that one operation.

An operation is durable (the default) or not. A transaction holding a durable one commits with
`synchronous=FULL`, so it survives a power cut once `run` returns; one holding none commits with
`synchronous=NORMAL`, without waiting for the disk: it survives a crash of the process, and a
power cut can lose it, but never out of order, since WAL commits reach the disk in sequence.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], Any]
_SYNCHRONOUS = {True: "PRAGMA synchronous=FULL", False: "PRAGMA synchronous=NORMAL"}


class GroupCommitter:
    """Runs operations on `db` from one worker thread, coalescing queued ones into one transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="botkit-sqlite")
        self._queue: list[tuple[Operation, bool, asyncio.Future[Any]]] = []
        self._draining: asyncio.Task[None] | None = None
        self._durable: bool | None = None  # the connection's synchronous level: FULL (True) or NORMAL
        self.transactions = 0
        """How many transactions have committed or failed: fewer than operations under load."""

    async def run(self, operation: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run `operation(db)` in the next transaction; return its result or raise its exception.

        `durable=False` for writes whose loss in a power cut costs nothing (a lease, a renewal):
        their transaction, unless it holds durable ones too, does not wait for the disk.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((operation, durable, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def run_alone(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run `operation(db)` on the store's thread outside any transaction (open, close)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, operation, self._db)

    def shutdown(self) -> None:
        self._thread.shutdown(wait=True)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                operations = [operation for operation, _, _ in batch]
                durable = any(durable for _, durable, _ in batch)
                level = None if durable == self._durable else _SYNCHRONOUS[durable]
                self._durable = durable
                self.transactions += 1
                try:
                    outcomes = await loop.run_in_executor(self._thread, _commit, self._db, operations, level)
                except Exception as exc:  # the transaction itself failed: every operation in it did
                    outcomes = [exc] * len(batch)
                for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._draining = None


def _commit(db: sqlite3.Connection, operations: list[Operation], level: str | None) -> list[Any]:
    """One write transaction, after the `level` PRAGMA if the synchronous level changes; each
    operation in a savepoint, so a failure rolls back only itself.

    A lone operation (the usual case unless callbacks crowd in) needs no savepoint: its failure
    rolls back the whole transaction, which holds nothing else.
    """
    alone = len(operations) == 1
    outcomes: list[Any] = []
    if level is not None:
        db.execute(level)
    db.execute("BEGIN IMMEDIATE")
    try:
        for operation in operations:
            if not alone:
                db.execute("SAVEPOINT operation")
            try:
                outcomes.append(operation(db))
            except Exception as exc:
                db.execute("ROLLBACK" if alone else "ROLLBACK TO operation")
                outcomes.append(exc)
            if not alone:
                db.execute("RELEASE operation")
        if db.in_transaction:  # not after a lone operation failed and rolled back
            db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return outcomes
