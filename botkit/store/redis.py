"""Store on Redis, so several botkit replicas share one intake journal and one conversation memory.

Each journal entry is a hash. Each lane keeps a list of its pending keys in arrival order, and one
sorted set, `ready`, holds every lane with a pending head, scored by when that head is next due
(its arrival, its retry time or the end of its lease). Claiming reads the earliest lanes off
`ready` and leases their heads: O(log n) whatever the backlog, never a scan. Every change that
depends on an entry's state is one Lua script, so two replicas never hold the same lease, and every
write after a lease checks the entry's fencing token. Done and failed entries leave their lane and
expire after `done_ttl` (7 days by default), far past Tencent's callback retries, so a late repeat
is still a duplicate. Turns are a list per conversation, capped at `turns_cap`. Every key starts
with `prefix`, so several apps can share one Redis. The scripts build keys from the prefix, so this
runs on a single Redis (or its primary), not on Redis Cluster, and wants `maxmemory-policy
noeviction`; an evicted entry is skipped rather than blocking its lane.

Why Lua on sorted sets rather than Streams consumer groups: a stream's pending-entry list tracks
delivery, not lanes, so per-conversation order, retry times and fencing would still need the same
scripts on top; one structure indexed by due time does all three.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from botkit.errors import ConfigError
from botkit.store.base import DONE_TTL_SECONDS, TURNS_CAP, EntryStatus, JournalEntry, LeaseLost, Turn
from botkit.store.migrations import rekey_redis

try:
    from redis.asyncio import Redis
except ImportError as exc:  # the redis extra is optional
    raise ConfigError("BOTKIT_STORE=redis://... needs: pip install 'botkit[redis]'") from exc

# Every script gets the key prefix as ARGV[1] and shares these helpers.
_HELPERS = """
local P = ARGV[1]
local READY = P .. 'ready'
local function entry_key(key) return P .. 'entry:' .. key end
local function lane_key(lane) return P .. 'lane:' .. lane end
-- The oldest pending key of a lane; keys whose entry was closed or evicted are dropped on the way.
local function head(lane)
  local list = lane_key(lane)
  local first = redis.call('LINDEX', list, 0)
  while first and redis.call('HGET', entry_key(first), 'status') ~= 'pending' do
    redis.call('LPOP', list)
    first = redis.call('LINDEX', list, 0)
  end
  return first
end
local function lease(key, lane, untill)
  local entry = entry_key(key)
  redis.call('HINCRBY', entry, 'token', 1)
  redis.call('HSET', entry, 'leased_until', untill)
  redis.call('ZADD', READY, untill, lane)
  return {key, unpack(redis.call('HGETALL', entry))}
end
-- The entry's lane while it is pending and leased with this token, else nil.
local function held(key, token)
  local fields = redis.call('HMGET', entry_key(key), 'token', 'status', 'lane')
  if fields[1] == token and fields[2] == 'pending' then return fields[3] end
  return nil
end
-- A journal written before `ready` had a `due` set of keys: move its pending entries into lanes.
local function upgrade()
  local old = P .. 'due'
  if redis.call('EXISTS', old) == 0 then return end
  local lanes = {}
  for _, key in ipairs(redis.call('ZRANGE', old, 0, -1)) do
    local entry = entry_key(key)
    if redis.call('HGET', entry, 'status') == 'pending' then
      local lane = redis.call('HGET', entry, 'lane')
      if not lane then
        lane = ''
        redis.call('HSET', entry, 'lane', lane)
        redis.call('RPUSH', lane_key(lane), key)
      end
      redis.call('HSETNX', entry, 'token', 0)
      redis.call('INCR', P .. 'pending')
      lanes[lane] = true
    end
  end
  for lane in pairs(lanes) do
    local first = head(lane)
    if first then
      local due = redis.call('HMGET', entry_key(first), 'not_before', 'leased_until')
      redis.call('ZADD', READY, math.max(tonumber(due[1]), tonumber(due[2])), lane)
    end
  end
  redis.call('DEL', old)
end
"""

# ARGV: prefix, payload, now, key, lane. The lane becomes ready when this is its only pending key.
_RECORD = """
local entry = entry_key(ARGV[4])
if redis.call('EXISTS', entry) == 1 then return 0 end
redis.call('HSET', entry, 'payload', ARGV[2], 'created_at', ARGV[3], 'status', 'pending',
  'attempts', 0, 'not_before', 0, 'leased_until', 0, 'reply_parts', 'null', 'sent_parts', 0,
  'error', 'null', 'lane', ARGV[5], 'token', 0)
if redis.call('RPUSH', lane_key(ARGV[5]), ARGV[4]) == 1 then redis.call('ZADD', READY, ARGV[3], ARGV[5]) end
redis.call('INCR', P .. 'pending')
return 1
"""

# ARGV: prefix, key, now, lease end.
_LEASE = """
local lane = redis.call('HGET', entry_key(ARGV[2]), 'lane')
if not lane or redis.call('HGET', entry_key(ARGV[2]), 'status') ~= 'pending' then return false end
local due = redis.call('ZSCORE', READY, lane)
if not due or tonumber(due) > tonumber(ARGV[3]) or head(lane) ~= ARGV[2] then return false end
return lease(ARGV[2], lane, ARGV[4])
"""

# ARGV: prefix, now, lease end, limit.
_CLAIM = """
upgrade()
local claimed = {}
for _, lane in ipairs(redis.call('ZRANGEBYSCORE', READY, '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[4]))) do
  local key = head(lane)
  if key then claimed[#claimed + 1] = lease(key, lane, ARGV[3]) else redis.call('ZREM', READY, lane) end
end
return claimed
"""

# ARGV: prefix, lease end, key, token, key, token, ... Returns the keys no longer held.
_RENEW = """
local lost = {}
for i = 3, #ARGV, 2 do
  local lane = held(ARGV[i], ARGV[i + 1])
  if lane then
    redis.call('HSET', entry_key(ARGV[i]), 'leased_until', ARGV[2])
    redis.call('ZADD', READY, ARGV[2], lane)
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
"""

# ARGV: prefix, key, token, field, value, ...
_UPDATE = """
if not held(ARGV[2], ARGV[3]) then return 0 end
redis.call('HSET', entry_key(ARGV[2]), unpack(ARGV, 4))
return 1
"""

# ARGV: prefix, key, token, not_before, error (JSON), count attempt (1/0). Retry or release.
_RESCHEDULE = """
local lane = held(ARGV[2], ARGV[3])
if not lane then return 0 end
local entry = entry_key(ARGV[2])
if ARGV[6] == '1' then
  redis.call('HINCRBY', entry, 'attempts', 1)
  redis.call('HSET', entry, 'not_before', ARGV[4], 'error', ARGV[5])
end
redis.call('HSET', entry, 'leased_until', 0)
redis.call('ZADD', READY, ARGV[4], lane)
return 1
"""

# ARGV: prefix, key, token, status, error (JSON), ttl. Returns {closed, next head of the lane or ''}.
_FINISH = """
local lane = held(ARGV[2], ARGV[3])
if not lane then return {0, ''} end
local entry = entry_key(ARGV[2])
redis.call('HSET', entry, 'status', ARGV[4], 'error', ARGV[5], 'leased_until', 0)
redis.call('LREM', lane_key(lane), 1, ARGV[2])
redis.call('EXPIRE', entry, ARGV[6])
redis.call('DECR', P .. 'pending')
local next_key = head(lane)
if not next_key then
  redis.call('ZREM', READY, lane)
  return {1, ''}
end
redis.call('ZADD', READY, redis.call('HGET', entry_key(next_key), 'not_before'), lane)
return {1, next_key}
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
        self._done_ttl = done_ttl
        self._turns_cap = turns_cap
        self._scripts = {
            name: self._redis.register_script(_HELPERS + body)
            for name, body in [
                ("record", _RECORD),
                ("lease", _LEASE),
                ("claim", _CLAIM),
                ("renew", _RENEW),
                ("update", _UPDATE),
                ("reschedule", _RESCHEDULE),
                ("finish", _FINISH),
            ]
        }
        rekey_redis(url, prefix)

    def __repr__(self) -> str:
        where = self._redis.connection_pool.connection_kwargs
        return f"RedisStore(host={where.get('host')!r}, db={where.get('db', 0)}, prefix={self.prefix!r})"

    async def record(self, key: str, payload: str, *, now: float, lane: str) -> bool:
        return bool(await self._script("record", payload, now, key, lane))

    async def lease(self, key: str, *, now: float, lease_seconds: float) -> JournalEntry | None:
        row = await self._script("lease", key, now, now + lease_seconds)
        return _entry_from_row(row) if row else None

    async def claim(self, *, now: float, lease_seconds: float, limit: int) -> list[JournalEntry]:
        if limit <= 0:
            return []
        rows = await self._script("claim", now, now + lease_seconds, limit)
        return [_entry_from_row(row) for row in rows]

    async def renew(
        self, leases: Sequence[tuple[str, int]], *, now: float, lease_seconds: float
    ) -> list[str]:
        if not leases:
            return []
        pairs = [value for key, token in leases for value in (key, token)]
        return list(await self._script("renew", now + lease_seconds, *pairs))

    async def save_reply(self, key: str, parts: Sequence[str], *, token: int) -> None:
        await self._update(key, token, "reply_parts", json.dumps(list(parts)))

    async def mark_sent(self, key: str, sent_parts: int, *, token: int) -> None:
        await self._update(key, token, "sent_parts", sent_parts)

    async def save_stream(self, key: str, stream: str, *, token: int) -> None:
        await self._update(key, token, "stream", stream)

    async def retry_later(self, key: str, *, token: int, not_before: float, error: str) -> None:
        if not await self._script("reschedule", key, token, not_before, json.dumps(error), 1):
            raise LeaseLost(key)

    async def release(self, key: str, *, token: int, now: float) -> None:
        if not await self._script("reschedule", key, token, now, "null", 0):
            raise LeaseLost(key)

    async def finish(
        self, key: str, status: EntryStatus, error: str | None = None, *, token: int
    ) -> str | None:
        closed, next_key = await self._script(
            "finish", key, token, status.value, json.dumps(error), self._done_ttl
        )
        if not closed:
            raise LeaseLost(key)
        return str(next_key) or None

    async def get(self, key: str) -> JournalEntry | None:
        fields = cast(dict[str, str], await self._redis.hgetall(f"{self.prefix}entry:{key}"))
        return _entry(key, fields) if fields else None

    async def backlog(self) -> int:
        return int(await self._redis.get(f"{self.prefix}pending") or 0)

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

    async def clear_turns(self, conversation: str) -> None:
        await self._redis.delete(self._turns_key(conversation))

    async def close(self) -> None:
        await self._redis.aclose()

    async def _script(self, name: str, *args: Any) -> Any:
        return await self._scripts[name](args=[self.prefix, *args])

    async def _update(self, key: str, token: int, *fields: Any) -> None:
        if not await self._script("update", key, token, *fields):
            raise LeaseLost(key)

    def _turns_key(self, conversation: str) -> str:
        return f"{self.prefix}turns:{conversation}"


def _entry_from_row(row: list[str]) -> JournalEntry:
    return _entry(row[0], dict(zip(row[1::2], row[2::2], strict=True)))


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
        token=int(fields.get("token", 0)),
        stream=fields.get("stream"),
    )
