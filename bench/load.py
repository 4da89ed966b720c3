"""The load: wrk with a Lua script for throughput, and a raw asyncio client for timed messages.

Both send validly signed `Bot.OnC2CMessage` callbacks, each from a new user, so every one is new
work for the bot; the Slack peer gets events signed the Slack way. wrk is a C load generator that
stays out of the way of the servers it measures; the raw client is for phases that must know when
each message went out (overhead, drain, recovery).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from apps import SDKAPPID, SLACK_SECRET, TOKEN

from botkit.callbacks import C2CMessage, CallbackQuery, callback_url, dump_callback
from botkit.elements import text_body
from botkit.restmodels import MAX_UINT32

HERE = Path(__file__).resolve().parent
WRK_CONNECTIONS = 50


def signed_path(now: str) -> str:
    """The callback URL Tencent calls, signed for `now` (Sign = sha256(token + RequestTime))."""
    query = CallbackQuery(
        sdkappid=SDKAPPID, callback_command="Bot.OnC2CMessage", client_ip="127.0.0.1", opt_platform="RESTAPI"
    )
    return callback_url("/im", query.params(), token=TOKEN, request_time=int(now))


def callback(user: str, seq: int) -> tuple[str, bytes]:
    """A signed callback: `user` asks "q USER", which the model stand-in answers "a USER"."""
    now = int(time.time())
    random = seq * 7919 % MAX_UINT32
    message = C2CMessage(
        from_account=user,
        to_account="@RBT#001",
        msg_seq=seq,
        msg_random=random,
        msg_time=now,
        msg_key=f"{seq}_{random}_{now}",
        msg_body=text_body(f"q {user}"),
    )
    return signed_path(str(now)), json.dumps(dump_callback(message)).encode()


def slack_events(path: Path, count: int) -> None:
    """Write `count` Slack message events, each signed: v0=HMAC-SHA256(secret, "v0:ts:body")."""
    now = str(int(time.time()))
    key = SLACK_SECRET.encode()
    with path.open("w") as out:
        for n in range(count):
            event = {"type": "message", "channel": "D1", "user": f"U{n}", "text": f"q U{n}"}
            event |= {"ts": f"{now}.{n:06d}", "channel_type": "im"}
            body = json.dumps(
                {
                    "token": "bench",
                    "team_id": "T1",
                    "api_app_id": "A1",
                    "type": "event_callback",
                    "event_id": f"Ev{n}",
                    "event_time": int(now),
                    "event": event,
                },
                separators=(",", ":"),
            )
            digest = hmac.new(key, f"v0:{now}:{body}".encode(), hashlib.sha256).hexdigest()
            out.write(f"{now}\tv0={digest}\t{body}\n")


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def wrk(port: int, script: str, seconds: float, env: dict[str, str], core: list[str]) -> WrkResult:
    """One wrk run on `core` (taskset args), 50 connections; its Lua `done()` prints the numbers."""
    args = [*core, "wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "5s"]
    args += ["-s", str(HERE / script), f"http://127.0.0.1:{port}"]
    done = subprocess.run(
        args, env={**os.environ, **env}, capture_output=True, text=True, timeout=seconds + 60, check=True
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    numbers = json.loads(line.removeprefix("BENCH_JSON "))
    return WrkResult(
        rps=numbers["requests"] / (numbers["duration_us"] / 1e6),
        p50_ms=numbers["p50_us"] / 1000,
        p99_ms=numbers["p99_us"] / 1000,
        requests=numbers["requests"],
        errors=numbers["non_2xx"] + numbers["socket_errors"],
    )


async def post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, url: str, body: bytes) -> int:
    """One keep-alive HTTP/1.1 POST; a raw client so the load generator is not the bottleneck."""
    head = f"POST {url} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    headers = await reader.readuntil(b"\r\n\r\n")
    if b"chunked" in headers.lower():
        while (size_line := await reader.readuntil(b"\r\n")) != b"0\r\n":
            await reader.readexactly(int(size_line, 16) + 2)
        await reader.readuntil(b"\r\n")
    else:
        length = next(
            int(line.split(b":", 1)[1])
            for line in headers.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
    return int(headers.split(b" ", 2)[1])


async def send_messages(
    port: int, users: list[str], *, connections: int, interval: float = 0.0
) -> tuple[dict[str, float], float]:
    """Send one callback per user (at most one per `interval` per connection); return when each
    went out (monotonic clock, the same in every process) and when the last ack came back."""
    sent: dict[str, float] = {}
    queue = iter(enumerate(users, start=1))
    last_ack = 0.0

    async def connection() -> None:
        nonlocal last_ack
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for seq, user in queue:
                url, body = callback(user, seq)
                sent[user] = time.monotonic()
                status = await post(reader, writer, url, body)
                last_ack = max(last_ack, time.monotonic())
                if status != 200:
                    raise RuntimeError(f"callback for {user} answered HTTP {status}")
                if interval:
                    await asyncio.sleep(interval)
        finally:
            writer.close()

    await asyncio.wait_for(asyncio.gather(*(connection() for _ in range(connections))), timeout=120)
    return sent, last_ack
