"""RedisStore as replicas use it: shared leases, one answer per callback, prefixes, TTLs, turn cap, URLs.

The behaviour table every store passes lives in test_store.py; this file covers what only Redis has.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys

import httpx
import pytest
import redis.asyncio as aioredis

from botkit.app import create_app
from botkit.callbacks import ACK_BODY, parse_callback
from botkit.config import Settings
from botkit.errors import ConfigError
from botkit.lab.waiting import await_until
from botkit.llm.echo import EchoProvider
from botkit.store import EntryStatus, Store, Turn, open_store
from botkit.store.base import DONE_TTL_SECONDS, LeaseLost
from botkit.store.redis import RedisStore
from sandbox.harness import InProcessSandbox
from tests.support import c2c_body, callback_url, rest_traffic, sent_texts

T0 = 1700000000.0
LEASE = 30.0


async def _claim_all(store: RedisStore, *, limit: int) -> list[str]:
    """Claim until nothing is due, as one replica's worker would."""
    keys: list[str] = []
    while batch := await store.claim(now=T0 + 100, lease_seconds=LEASE, limit=limit):
        keys.extend(entry.key for entry in batch)
    return keys


async def test_two_replicas_claiming_at_once_never_lease_the_same_entry(fresh_redis: str) -> None:
    replicas = [RedisStore(fresh_redis), RedisStore(fresh_redis)]
    expected = [f"c2c:u1:{n}" for n in range(50)]
    for n, key in enumerate(expected):
        await replicas[0].record(key, "p", now=T0 + n, lane=key)

    try:
        claims = await asyncio.gather(*(_claim_all(replica, limit=3) for replica in replicas * 4))
    finally:
        for replica in replicas:
            await replica.close()

    everything = [key for claim in claims for key in claim]
    assert sorted(everything) == sorted(expected)


async def _wait_until_finished(store: Store, key: str) -> None:
    async def finished() -> bool:
        entry = await store.get(key)
        return entry is not None and entry.status is not EntryStatus.PENDING

    await await_until(finished, timeout=10, failure=f"{key} was not answered", interval=0.01)


async def test_same_callback_delivered_to_two_replicas_is_answered_once(
    settings: Settings, chat_api: InProcessSandbox, fresh_redis: str
) -> None:
    stores = [RedisStore(fresh_redis), RedisStore(fresh_redis)]
    apps = [
        create_app(settings, transport=chat_api.transport, provider=EchoProvider(), store=store)
        for store in stores
    ]
    body = c2c_body("hello")
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            clients.append(
                await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://bot"))
            )
        stack.push_async_callback(asyncio.gather, *(store.close() for store in stores))

        url = callback_url("Bot.OnC2CMessage")
        responses = await asyncio.gather(*(client.post(url, content=body) for client in clients))
        await _wait_until_finished(stores[1], parse_callback("Bot.OnC2CMessage", body).dedupe_key)

    assert [(response.status_code, response.json()) for response in responses] == [(200, ACK_BODY)] * 2
    assert sent_texts(chat_api) == ["echo: hello"]
    assert len(rest_traffic(chat_api)) == 1


async def test_prefixes_keep_apps_on_one_redis_apart(fresh_redis: str) -> None:
    first, second = RedisStore(fresh_redis, prefix="app1:"), RedisStore(fresh_redis, prefix="app2:")
    try:
        assert await first.record("k", "for app1", now=T0, lane="k") is True
        assert await second.record("k", "for app2", now=T0, lane="k") is True
        await first.append_turns("conv", [Turn("user", "asked app1")])

        assert [entry.payload for entry in await second.claim(now=T0, lease_seconds=LEASE, limit=10)] == [
            "for app2"
        ]
        assert await second.load_turns("conv", 10) == []
        assert await first.load_turns("conv", 10) == [Turn("user", "asked app1")]
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize(
    ("finish_with", "ttl_range"),
    [
        (None, (-1, -1)),  # pending: kept until answered
        (EntryStatus.DONE, (1, DONE_TTL_SECONDS)),
        (EntryStatus.FAILED, (1, DONE_TTL_SECONDS)),
    ],
)
async def test_only_finished_entries_expire(
    fresh_redis: str, finish_with: EntryStatus | None, ttl_range: tuple[int, int]
) -> None:
    store = RedisStore(fresh_redis)
    raw = aioredis.Redis.from_url(fresh_redis)
    try:
        await store.record("k", "p", now=T0, lane="k")
        if finish_with is not None:
            await store.finish("k", finish_with, token=0)

        ttl = await raw.ttl("botkit:entry:k")
    finally:
        await raw.aclose()
        await store.close()

    assert ttl_range[0] <= ttl <= ttl_range[1]


async def test_turns_are_capped_to_the_latest(fresh_redis: str) -> None:
    store = RedisStore(fresh_redis, turns_cap=3)
    try:
        await store.append_turns("conv", [Turn("user", f"q{n}") for n in range(5)])
        await store.append_turns("conv", [Turn("assistant", "a5")])

        assert [turn.content for turn in await store.load_turns("conv", 100)] == ["q3", "q4", "a5"]
    finally:
        await store.close()


async def test_changes_to_an_unknown_key_create_no_entry(fresh_redis: str) -> None:
    store = RedisStore(fresh_redis)
    try:
        writes = [
            store.save_reply("gone", ["text"], token=0),
            store.mark_sent("gone", 1, token=0),
            store.retry_later("gone", token=0, not_before=T0, error="late"),
            store.release("gone", token=0, now=T0),
            store.finish("gone", EntryStatus.DONE, token=0),
        ]
        for write in writes:
            with pytest.raises(LeaseLost):
                await write

        assert await store.get("gone") is None
        assert await store.claim(now=T0 + 100, lease_seconds=LEASE, limit=10) == []
        assert await store.record("gone", "p", now=T0, lane="gone") is True
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("url", "host", "db"),
    [
        ("redis://127.0.0.1:6379/0", "127.0.0.1", 0),
        ("redis://:s3cret-pass@redis.internal:6380/2", "redis.internal", 2),
        ("rediss://user:s3cret-pass@cache.example.test:6380/1", "cache.example.test", 1),
    ],
)
async def test_open_store_redis_urls(url: str, host: str, db: int) -> None:
    store = open_store(url)
    try:
        assert isinstance(store, RedisStore)
        assert repr(store) == f"RedisStore(host={host!r}, db={db}, prefix='botkit:')"
        assert "s3cret" not in repr(store)
    finally:
        await store.close()


def test_bad_redis_url_is_a_config_error_without_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        open_store("redis://:s3cret-pass@redis.internal:notaport/0")

    assert "BOTKIT_STORE" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def _run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_without_the_redis_package_the_error_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "from botkit.errors import ConfigError\n"
        "from botkit.store import open_store\n"
        "try:\n    open_store('redis://127.0.0.1:6379/0')\n"
        "except ConfigError as exc:\n    print(exc)"
    )

    assert _run_python(code) == "BOTKIT_STORE=redis://... needs: pip install 'botkit[redis]'"


def test_importing_botkit_does_not_import_redis() -> None:
    code = "import sys, botkit, botkit.app, botkit.cli, botkit.store; print('redis' in sys.modules)"

    assert _run_python(code) == "False"


async def test_an_entry_from_before_lanes_is_still_claimed_and_finished(fresh_redis: str) -> None:
    store = RedisStore(fresh_redis)
    raw = aioredis.Redis.from_url(fresh_redis)
    try:
        fields: list[str | float] = [
            "payload",
            "p",
            "created_at",
            T0,
            "status",
            "pending",
            "attempts",
            0,
            "not_before",
            0,
        ]
        fields += ["leased_until", 0, "reply_parts", "null", "sent_parts", 0, "error", "null"]
        await raw.hset("botkit:entry:old", items=fields)
        await raw.zadd("botkit:due", {"old": T0})

        claimed = await store.claim(now=T0 + 1, lease_seconds=LEASE, limit=10)
        await store.finish("old", EntryStatus.DONE, token=claimed[0].token)
        finished = await store.get("old")
    finally:
        await raw.aclose()
        await store.close()

    assert [(entry.key, entry.lane) for entry in claimed] == [("old", "")]
    assert finished is not None and finished.status is EntryStatus.DONE


async def test_a_lane_whose_oldest_entry_was_evicted_moves_on(fresh_redis: str) -> None:
    store = RedisStore(fresh_redis)
    raw = aioredis.Redis.from_url(fresh_redis)
    try:
        await store.record("first", "p", now=T0, lane="c2c:@RBT#001:u1")
        await store.record("second", "p", now=T0 + 1, lane="c2c:@RBT#001:u1")
        await raw.delete("botkit:entry:first")

        claimed = [entry.key for entry in await store.claim(now=T0 + 10, lease_seconds=LEASE, limit=10)]
    finally:
        await raw.aclose()
        await store.close()

    assert claimed == ["second"]
