"""Journal cost against backlog: the same answering work with an empty journal and with a big one.

    python bench/backlog.py [--backlog 100000] [--messages 2000]

For each store (memory, SQLite) it times, for `--messages` new messages at once, the store work
of answering each (record, lease, save the reply, count the part, finish), first on an empty
journal and then on one holding `--backlog` pending entries (leased by another replica, so not
due) and as many finished ones (a week of history). It also times one claim of 100 due entries out
of 100 and out of `--backlog`. The ratios say whether cost grows with the backlog: 1.0 is flat.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from botkit.store import EntryStatus, InMemoryStore, SQLiteStore, Store

NOW = 1_800_000_000.0
LEASE = 30.0
CHUNK = 2000


async def fill(store: Store, *, pending: int, finished: int) -> None:
    """`pending` entries leased far ahead (another replica holds them) and `finished` done ones."""
    for start in range(0, pending, CHUNK):
        keys = [f"held:{n}" for n in range(start, min(start + CHUNK, pending))]
        await asyncio.gather(*(store.record(key, "{}", now=NOW - 3600, lane=key) for key in keys))
        await asyncio.gather(*(store.lease(key, now=NOW - 3600, lease_seconds=10 * 3600) for key in keys))
    for start in range(0, finished, CHUNK):
        keys = [f"done:{n}" for n in range(start, min(start + CHUNK, finished))]
        await asyncio.gather(*(store.record(key, "{}", now=NOW - 3600, lane=key) for key in keys))
        await asyncio.gather(*(store.finish(key, EntryStatus.DONE, token=0) for key in keys))


async def answer_all(store: Store, messages: int, tag: str) -> float:
    """Seconds for the store work of answering `messages` new messages, all at once."""

    async def answer(n: int) -> None:
        key = f"{tag}:{n}"
        await store.record(key, '{"payload": "a callback"}', now=NOW, lane=key)
        entry = await store.lease(key, now=NOW, lease_seconds=LEASE)
        assert entry is not None, "a fresh entry of its own lane is always leasable"
        await store.save_reply(key, ["the answer"], token=entry.token)
        await store.mark_sent(key, 1, token=entry.token)
        await store.finish(key, EntryStatus.DONE, token=entry.token)

    gc.collect()  # each run starts with the collector in the same state, not midway to a full pass
    started = time.perf_counter()
    await asyncio.gather(*(answer(n) for n in range(messages)))
    return time.perf_counter() - started


async def claim_seconds(store: Store, due: int, tag: str) -> float:
    """Median seconds of claiming 100 entries when `due` entries are due."""
    for start in range(0, due, CHUNK):
        keys = [f"{tag}:{n}" for n in range(start, min(start + CHUNK, due))]
        await asyncio.gather(*(store.record(key, "{}", now=NOW, lane=key) for key in keys))
    times = []
    for _ in range(5):
        started = time.perf_counter()
        claimed = await store.claim(now=NOW + 1, lease_seconds=LEASE, limit=100)
        times.append(time.perf_counter() - started)
        assert len(claimed) == 100
        await asyncio.gather(*(store.release(e.key, token=e.token, now=NOW) for e in claimed))
    return statistics.median(times)


async def measure(open_store: Callable[[str], Store], backlog: int, messages: int) -> dict[str, float]:
    empty, full = open_store("empty"), open_store("full")
    try:
        empty_s = await answer_all(empty, messages, "new")
        await fill(full, pending=backlog, finished=backlog)
        full_s = await answer_all(full, messages, "new")
    finally:
        await empty.close()
        await full.close()
    small, big = open_store("claim-small"), open_store("claim-big")
    try:
        claim_small = await claim_seconds(small, 100, "due")
        claim_big = await claim_seconds(big, backlog, "due")
    finally:
        await small.close()
        await big.close()
    return {
        "answers_per_s_empty": messages / empty_s,
        "answers_per_s_backlog": messages / full_s,
        "claim_ms_100_due": claim_small * 1000,
        "claim_ms_backlog_due": claim_big * 1000,
    }


async def run(backlog: int, messages: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as folder:
        stores: dict[str, Callable[[str], Store]] = {
            "memory": lambda name: InMemoryStore(),
            "sqlite": lambda name: SQLiteStore(Path(folder) / f"{name}.db"),
        }
        return {kind: await measure(factory, backlog, messages) for kind, factory in stores.items()}


def table(results: dict[str, dict[str, float]], backlog: int) -> str:
    lines = [
        f"{'store':8} {'answers/s empty':>16} {f'answers/s {backlog:,} pending':>26} {'ratio':>6}"
        f" {'claim ms (100 due)':>19} {f'claim ms ({backlog:,} due)':>22} {'ratio':>6}"
    ]
    for kind, r in results.items():
        answer_ratio = r["answers_per_s_backlog"] / r["answers_per_s_empty"]
        claim_ratio = r["claim_ms_backlog_due"] / r["claim_ms_100_due"]
        lines.append(
            f"{kind:8} {r['answers_per_s_empty']:>16,.0f} {r['answers_per_s_backlog']:>26,.0f} "
            f"{answer_ratio:>6.2f} {r['claim_ms_100_due']:>19.2f} {r['claim_ms_backlog_due']:>22.2f} "
            f"{claim_ratio:>6.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    print(table(asyncio.run(run(args.backlog, args.messages)), args.backlog))


if __name__ == "__main__":
    main()
