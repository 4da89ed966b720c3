"""Group commit for SQLite: statements run on the event loop, and one fsync serves many of them.

Operations queued in one turn of the event loop run together in one transaction, on the loop's
own thread; if one fails, the batch runs again with each in a savepoint, so it fails alone.
Running them inline costs tens of microseconds; handing each to a thread cost a context switch
both ways, which on a busy core was most of a store call's time.

What does wait is the disk. Transactions commit with `synchronous=NORMAL` (written to the WAL,
not yet flushed), and an operation marked durable (the default) returns only once a later fsync
of the WAL has covered it. That fsync runs on one worker thread (or, for a lone write, on the loop
itself); operations that commit while it runs share the next one, so under load one fsync serves
hundreds of journal writes. NORMAL plus this fsync is what `synchronous=FULL` does in WAL mode.

The WAL is checkpointed on that thread too, through a connection of its own (PASSIVE, so writers
never wait for it), instead of inside whichever commit happened to cross SQLite's page threshold
on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], Any]
Sync = Callable[[int], None]

log = logging.getLogger("botkit.store")

CHECKPOINT_EVERY_COMMITS = 500
"""Transactions between two checkpoints: a few MB of WAL at most under load."""
INLINE_SYNC_MAX = 2
"""Durable operations few enough to fsync for on the event loop itself: a lone write, with the
loop otherwise idle, waits a fraction of a millisecond for the disk where waking the worker thread
and being woken by it cost twice that. More waiting means a busy loop: they go to the thread."""
BUSY_SECONDS = 5.0
"""How long a batch waits for another process's write lock before its operations fail."""
BUSY_RETRY_SECONDS = 0.002
"""How often a batch tries again for that lock: the event loop never sleeps inside SQLite."""


class GroupCommitter:
    """Runs operations on `db` on the event loop, coalescing queued ones into one transaction and
    the durable ones' waits into one fsync of the WAL (on a worker thread unless few are waiting).

    `db` is in WAL mode, opened with `isolation_level=None` and `check_same_thread=False`.
    `sync` flushes a file descriptor to disk (`os.fsync`; replaceable in tests).
    """

    def __init__(self, db: sqlite3.Connection, *, sync: Sync = os.fsync) -> None:
        self._db = db
        self._path = _main_file(db)
        self._sync = sync
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run on the worker thread
        db.execute("PRAGMA busy_timeout=0")  # a held lock is waited for by retrying, not by sleeping
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="botkit-sqlite-sync")
        self._queue: list[tuple[Operation, bool, asyncio.Future[Any]]] = []
        self._flush_scheduled = False
        self._unsynced: list[tuple[asyncio.Future[Any], Any]] = []  # committed, awaiting an fsync
        self._syncing: asyncio.Task[None] | None = None
        self._wal_fd: int | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._commits_since_checkpoint = 0
        self._busy_since: float | None = None
        self._disk_error: OSError | None = None  # once an fsync fails, no later write is called durable
        self.transactions = 0
        """How many transactions have committed or failed: fewer than operations under load."""
        self.syncs = 0
        """How many fsyncs durable operations have waited for: fewer than those operations."""

    async def run(self, operation: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run `operation(db)` in the next transaction; return its result or raise its exception.

        A durable operation returns once its transaction is on disk, so it survives a power cut;
        `durable=False` is for writes whose loss in a power cut costs nothing (a lease, a renewal),
        which survive a crash of the process as soon as they return.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((operation, durable, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    async def close(self) -> None:
        """Run what is queued, wait for its fsync, then close the connection and the worker thread."""
        await self.run(lambda db: None, durable=False)  # behind whatever is queued
        if self._syncing is not None:
            await self._syncing
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close_on_thread)
        self._thread.shutdown(wait=True)
        self._db.close()

    def _flush(self) -> None:
        self._flush_scheduled = False
        batch, self._queue = self._queue, []
        try:
            outcomes = _commit(self._db, [operation for operation, _, _ in batch])
        except sqlite3.OperationalError as exc:
            if self._wait_for_lock(exc, batch):
                return
            outcomes = [exc] * len(batch)
        except Exception as exc:  # the transaction itself failed: every operation in it did
            outcomes = [exc] * len(batch)
        self._busy_since = None
        self.transactions += 1
        for (_, durable, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            elif durable:
                self._unsynced.append((future, outcome))
            else:
                future.set_result(outcome)
        self._commits_since_checkpoint += 1
        if self._syncing is not None:
            return  # the fsync running on the thread is followed by one for these
        if 0 < len(self._unsynced) <= INLINE_SYNC_MAX and not self._checkpoint_due():
            waiting, self._unsynced = self._unsynced, []
            _settle(waiting, self._sync_counted())
        elif self._unsynced or self._checkpoint_due():
            self._syncing = asyncio.create_task(self._sync_loop())

    def _wait_for_lock(self, error: sqlite3.OperationalError, batch: list[Any]) -> bool:
        """Put `batch` back first in line and try again shortly, if another process holds the write
        lock and has not held it for BUSY_SECONDS yet; False when the batch should fail."""
        if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
            return False
        now = time.monotonic()
        if self._busy_since is None:
            self._busy_since = now
        elif now - self._busy_since > BUSY_SECONDS:
            self._busy_since = None
            return False
        self._queue = batch + self._queue
        self._flush_scheduled = True
        asyncio.get_running_loop().call_later(BUSY_RETRY_SECONDS, self._flush)
        return True

    def _sync_counted(self) -> Exception | None:
        """fsync the WAL here and now; the error, if it failed."""
        try:
            self._flush_wal()
        except Exception as exc:
            return exc
        self.syncs += 1
        return None

    def _checkpoint_due(self) -> bool:
        return self._commits_since_checkpoint >= CHECKPOINT_EVERY_COMMITS

    async def _sync_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._unsynced or self._checkpoint_due():
                waiting, self._unsynced = self._unsynced, []
                checkpoint = self._checkpoint_due()
                if checkpoint:
                    self._commits_since_checkpoint = 0
                error: Exception | None = None
                try:
                    await loop.run_in_executor(self._thread, self._on_thread, bool(waiting), checkpoint)
                    if waiting:
                        self.syncs += 1
                except Exception as exc:
                    error = exc
                except BaseException:  # cancelled (the loop is shutting down): nobody waits forever
                    stranded, self._unsynced = waiting + self._unsynced, []
                    _settle(stranded, RuntimeError("the store stopped before the write reached the disk"))
                    raise
                _settle(waiting, error)
        finally:
            self._syncing = None

    def _on_thread(self, sync: bool, checkpoint: bool) -> None:
        if sync:
            self._flush_wal()
        if checkpoint:
            try:
                if self._checkpointer is None:
                    self._checkpointer = sqlite3.connect(self._path, isolation_level=None)
                self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:  # the WAL just grows until the next one: fail no write for it
                log.warning("could not checkpoint the journal's WAL: %s", exc)

    def _flush_wal(self) -> None:
        """fsync the WAL; after one failure every later call fails too. A failed fsync can leave
        the kernel's pages marked clean, so a later fsync may succeed without the lost data on disk:
        from then on no write is promised durable until the process restarts (as PostgreSQL does)."""
        if self._disk_error is not None:
            raise self._disk_error
        try:
            self._sync_wal()
        except OSError as exc:
            self._disk_error = exc
            log.error("an fsync of the journal failed (%s); durable writes fail until botkit restarts", exc)
            raise

    def _sync_wal(self) -> None:
        """fsync the WAL, reopening it if SQLite replaced the file since the last time."""
        wal = self._path + "-wal"
        try:
            current = os.stat(wal).st_ino
        except FileNotFoundError:  # checkpointed and removed: everything is in the main file
            fd = os.open(self._path, os.O_RDONLY)
            try:
                self._sync(fd)
            finally:
                os.close(fd)
            return
        if self._wal_fd is not None and os.fstat(self._wal_fd).st_ino != current:
            os.close(self._wal_fd)
            self._wal_fd = None
        if self._wal_fd is None:
            self._wal_fd = os.open(wal, os.O_RDONLY)
        self._sync(self._wal_fd)

    def _close_on_thread(self) -> None:
        if self._wal_fd is not None:
            os.close(self._wal_fd)
            self._wal_fd = None
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None


def _settle(waiting: list[tuple[asyncio.Future[Any], Any]], error: Exception | None) -> None:
    """Hand durable operations their results once their fsync is done, or its error."""
    for future, outcome in waiting:
        if future.done():
            continue
        if error is None:
            future.set_result(outcome)
        else:  # committed, but whether it is on disk is unknown: say so
            future.set_exception(error)


def _main_file(db: sqlite3.Connection) -> str:
    row = db.execute("PRAGMA database_list").fetchone()
    return str(row[2])


def _commit(db: sqlite3.Connection, operations: list[Operation]) -> list[Any]:
    """One write transaction for `operations`; a failing one rolls back only its own writes.

    Optimistic: the batch runs as it is, and only if an operation raises is the transaction rolled
    back and the batch run again with each operation in a savepoint. Operations are SQL alone, so
    running one again after a rollback is running it once; savepoints for every operation cost
    two statements each, as much as a callback's own writes.
    """
    outcomes: list[Any] = []
    db.execute("BEGIN IMMEDIATE")
    try:
        for operation in operations:
            outcomes.append(operation(db))
    except Exception as exc:
        _roll_back(db)
        if len(operations) == 1:
            return [exc]
        return _commit_each(db, operations)
    except BaseException:
        _roll_back(db)
        raise
    try:
        db.execute("COMMIT")
    except BaseException:
        _roll_back(db)
        raise
    return outcomes


def _commit_each(db: sqlite3.Connection, operations: list[Operation]) -> list[Any]:
    """The batch again, in one transaction with a savepoint per operation."""
    outcomes: list[Any] = []
    db.execute("BEGIN IMMEDIATE")
    try:
        for operation in operations:
            db.execute("SAVEPOINT operation")
            try:
                outcomes.append(operation(db))
            except Exception as exc:
                db.execute("ROLLBACK TO operation")
                outcomes.append(exc)
            db.execute("RELEASE operation")
        db.execute("COMMIT")
    except BaseException:
        _roll_back(db)
        raise
    return outcomes


def _roll_back(db: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already (it does after some errors)."""
    if db.in_transaction:
        db.execute("ROLLBACK")
