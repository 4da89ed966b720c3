"""Store on Redis, so several botkit replicas share one intake journal and one conversation memory.

Each journal entry is a hash. Pending entries also sit in one sorted set scored by the time they are
next due (arrival, retry time or lease end), so `claim` is one Lua script that leases the earliest
due entries atomically: two replicas never hold the same entry. Each lane keeps a list of its
pending keys in arrival order, and `claim` only leases the key at the head of its lane, so a
conversation is answered in order. Every change that depends on an entry's state runs as a script
too. Done and failed entries leave the due set and expire after `done_ttl` (7 days by default), far
past Tencent's callback retries, so a late repeat is still a duplicate. Turns are a list per
conversation, capped at `turns_cap`. Every key starts with `prefix`, so several apps can share one
Redis. The scripts name keys they build from the prefix, so this runs on a single Redis (or its
primary), not on Redis Cluster.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import cast

from botkit.errors import ConfigError
from botkit.store.base import DONE_TTL_SECONDS, TURNS_CAP, EntryStatus, JournalEntry, Turn
from botkit.store.migrations import rekey_redis

try:
    from redis.asyncio import Redis
except ImportError as exc:  # the redis extra is optional
    raise ConfigError("BOTKIT_STORE=redis://... needs: pip install 'botkit[redis]'") from exc


# KEYS: entry, due set, lane list. ARGV: payload, created_at, key, lane. Due from its arrival.
_RECORD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'payload', ARGV[1], 'created_at', ARGV[2], 'status', 'pending',
  'attempts', 0, 'not_before', 0, 'leased_until', 0, 'reply_parts', 'null', 'sent_parts', 0,
  'error', 'null', 'lane', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('RPUSH', KEYS[3], ARGV[3])
return 1
"""

# KEYS: due set. ARGV: now, lease end, limit, entry key prefix, lane key prefix. A leased entry is
# due again at lease end. An entry not at the head of its lane waits; one from before lanes has none.
# Keys whose entry is no longer pending (or was evicted) are dropped from a lane's head, so it never sticks.
_CLAIM = """
local function head(lane)
  local first = redis.call('LINDEX', lane, 0)
  while first and redis.call('HGET', ARGV[4] .. first, 'status') ~= 'pending' do
    redis.call('LPOP', lane)
    first = redis.call('LINDEX', lane, 0)
  end
  return first
end
local claimed = {}
local limit = tonumber(ARGV[3])
for _, key in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])) do
  if #claimed >= limit then break end
  local entry = ARGV[4] .. key
  local lane = redis.call('HGET', entry, 'lane')
  if not lane or head(ARGV[5] .. lane) == key then
    redis.call('HSET', entry, 'leased_until', ARGV[2])
    redis.call('ZADD', KEYS[1], ARGV[2], key)
    claimed[#claimed + 1] = {key, unpack(redis.call('HGETALL', entry))}
  end
end
return claimed
"""

# KEYS: entry, due set. ARGV: not_before, error, key. A late retry must not revive a finished entry.
_RETRY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'not_before', ARGV[1], 'leased_until', 0, 'error', ARGV[2])
if redis.call('HGET', KEYS[1], 'status') == 'pending' then
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
end
return 1
"""

# KEYS: entry, due set. ARGV: status, error, key, ttl seconds, lane key prefix. Frees the lane.
_FINISH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local lane = redis.call('HGET', KEYS[1], 'lane')
if lane then redis.call('LREM', ARGV[5] .. lane, 0, ARGV[3]) end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'error', ARGV[2], 'leased_until', 0)
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""

# KEYS: entry. ARGV: field, value, ... Never creates a half-filled entry for an unknown (or expired) key.
_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


class RedisStore:
    """Store on one Redis (`redis://host:port/db` or `rediss://`); the connection opens on first use."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "botkit:",
        done_ttl: int = DONE_TTL_SECONDS,
        turns_cap: int = TURNS_CAP,
    ) -> None:
        try:
            self._redis = Redis.from_url(url, decode_responses=True)
        except ValueError as exc:
            raise ConfigError(f"BOTKIT_STORE is not a valid Redis URL: {exc}") from exc
        self.prefix = prefix
        self._due = f"{prefix}due"
        self._done_ttl = done_ttl
        self._turns_cap = turns_cap
        self._record = self._redis.register_script(_RECORD)
        self._claim = self._redis.register_script(_CLAIM)
        self._retry = self._redis.register_script(_RETRY)
        self._finish = self._redis.register_script(_FINISH)
        self._update = self._redis.register_script(_UPDATE)
        rekey_redis(url, prefix)

    def __repr__(self) -> str:
        where = self._redis.connection_pool.connection_kwargs
        return f"RedisStore(host={where.get('host')!r}, db={where.get('db', 0)}, prefix={self.prefix!r})"

    async def record(self, key: str, payload: str, *, now: float, lane: str) -> bool:
        created = await self._record(
            keys=[self._entry_key(key), self._due, self._lane_key(lane)], args=[payload, now, key, lane]
        )
        return bool(created)

    async def claim(self, *, now: float, lease_seconds: float, limit: int) -> list[JournalEntry]:
        rows = await self._claim(
            keys=[self._due],
            args=[now, now + lease_seconds, limit, self._entry_key(""), self._lane_key("")],
        )
        return [_entry(row[0], dict(zip(row[1::2], row[2::2], strict=True))) for row in rows]

    async def save_reply(self, key: str, parts: Sequence[str]) -> None:
        await self._update(keys=[self._entry_key(key)], args=["reply_parts", json.dumps(list(parts))])

    async def mark_sent(self, key: str, sent_parts: int) -> None:
        await self._update(keys=[self._entry_key(key)], args=["sent_parts", sent_parts])

    async def retry_later(self, key: str, *, not_before: float, error: str) -> None:
        await self._retry(keys=[self._entry_key(key), self._due], args=[not_before, json.dumps(error), key])

    async def finish(self, key: str, status: EntryStatus, error: str | None = None) -> None:
        await self._finish(
            keys=[self._entry_key(key), self._due],
            args=[status.value, json.dumps(error), key, self._done_ttl, self._lane_key("")],
        )

    async def get(self, key: str) -> JournalEntry | None:
        fields = cast(dict[str, str], await self._redis.hgetall(self._entry_key(key)))  # decode_responses
        return _entry(key, fields) if fields else None

    async def load_turns(self, conversation: str, limit: int) -> list[Turn]:
        if limit <= 0:  # LRANGE -0 -1 would be the whole list
            return []
        rows = await self._redis.lrange(self._turns_key(conversation), -limit, -1)
        return [Turn(**json.loads(row)) for row in rows]

    async def append_turns(self, conversation: str, turns: Sequence[Turn]) -> None:
        if not turns:
            return
        key = self._turns_key(conversation)
        rows = [json.dumps({"role": turn.role, "content": turn.content}) for turn in turns]
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, *rows)
            pipe.ltrim(key, -self._turns_cap, -1)
            await pipe.execute()

    async def close(self) -> None:
        await self._redis.aclose()

    def _entry_key(self, key: str) -> str:
        return f"{self.prefix}entry:{key}"

    def _turns_key(self, conversation: str) -> str:
        return f"{self.prefix}turns:{conversation}"

    def _lane_key(self, lane: str) -> str:
        return f"{self.prefix}lane:{lane}"


def _entry(key: str, fields: dict[str, str]) -> JournalEntry:
    return JournalEntry(
        key=key,
        payload=fields["payload"],
        status=EntryStatus(fields["status"]),
        attempts=int(fields["attempts"]),
        not_before=float(fields["not_before"]),
        leased_until=float(fields["leased_until"]),
        reply_parts=json.loads(fields["reply_parts"]),
        sent_parts=int(fields["sent_parts"]),
        error=json.loads(fields["error"]),
        created_at=float(fields["created_at"]),
        lane=fields.get("lane", ""),
    )
