"""Stores for conversation turns and the intake journal; `open_store(url)` picks one."""

from __future__ import annotations

from botkit.errors import ConfigError
from botkit.store.base import EntryStatus, JournalEntry, Store, Turn
from botkit.store.inmemory import InMemoryStore
from botkit.store.sqlite import SQLiteStore

__all__ = ["EntryStatus", "InMemoryStore", "JournalEntry", "SQLiteStore", "Store", "Turn", "open_store"]


def open_store(url: str) -> Store:
    """`memory://`, `sqlite:///path/to/file.db`, a bare file path (SQLite), or `redis://host:port/db`."""
    if url == "memory://":
        return InMemoryStore()
    if url.startswith(("redis://", "rediss://")):
        from botkit.store.redis import RedisStore  # imported here: redis is an optional extra

        return RedisStore(url)
    if url.startswith("sqlite:///"):
        return SQLiteStore(url.removeprefix("sqlite:///"))
    if "://" in url:
        raise ConfigError(
            f"BOTKIT_STORE {url.split('://')[0]}:// is not supported; use sqlite:///, memory:// or redis://"
        )
    return SQLiteStore(url)
