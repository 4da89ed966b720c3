"""Webhook ack latency and throughput: botkit against a bare ASGI app, same server, same load.

    python bench/webhook.py [--requests 2000] [--concurrency 16]

Each app runs under uvicorn in its own process on a loopback port; this process fires signed
`Bot.OnC2CMessage` callbacks (each a new message) and times every ack. Numbers from one run on
a noisy machine: compare the ratio, not absolute values across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

from botkit.signature import sign_callback

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from apps import SDKAPPID, TOKEN  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def callback(seq: int) -> tuple[str, bytes]:
    now = str(int(time.time()))
    query = urlencode(
        {
            "SdkAppid": SDKAPPID,
            "CallbackCommand": "Bot.OnC2CMessage",
            "contenttype": "json",
            "ClientIP": "127.0.0.1",
            "OptPlatform": "RESTAPI",
            "RequestTime": now,
            "Sign": sign_callback(TOKEN, now),
        }
    )
    body = {
        "CallbackCommand": "Bot.OnC2CMessage",
        "From_Account": f"user{seq % 50}",
        "To_Account": "@RBT#001",
        "MsgSeq": seq,
        "MsgRandom": seq * 7919 % 4294967295,
        "MsgTime": int(now),
        "MsgKey": f"{seq}_{seq * 7919}_{now}",
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": f"hello {seq}"}}],
    }
    return f"/im?{query}", json.dumps(body).encode()


def start_server(target: str, port: int, factory: bool) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "uvicorn", target, "--port", str(port), "--log-level", "warning"]
    args += ["--app-dir", str(HERE), "--no-access-log"] + (["--factory"] if factory else [])
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTKIT_")}
    return subprocess.Popen(args, env=env)


async def wait_ready(base: str, deadline: float) -> None:
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                await client.post(f"{base}/ready", content=b"{}")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"server at {base} did not start")


async def post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, url: str, body: bytes) -> int:
    """One keep-alive HTTP/1.1 POST; a raw client so the load generator is not the bottleneck."""
    head = f"POST {url} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    headers = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in headers.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    await reader.readexactly(length)
    return int(headers.split(b" ", 2)[1])


async def load(port: int, requests: int, concurrency: int, first_seq: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    bodies = [callback(seq) for seq in range(first_seq, first_seq + requests)]
    queue = iter(bodies)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for url, body in queue:
                started = time.perf_counter()
                status = await post(reader, writer, url, body)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    raise RuntimeError(f"ack failed with HTTP {status}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


async def measure(name: str, target: str, factory: bool, args: argparse.Namespace) -> dict[str, float]:
    port = free_port()
    server = start_server(target, port, factory)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(base, time.monotonic() + 30)
        await load(port, min(200, args.requests), args.concurrency, first_seq=10**6)  # warm-up
        latencies, elapsed = await load(port, args.requests, args.concurrency, first_seq=1)
    finally:
        server.terminate()
        server.wait(10)
    ms = sorted(x * 1000 for x in latencies)
    return {
        "median_ms": statistics.median(ms),
        "p99_ms": ms[int(len(ms) * 0.99) - 1],
        "acks_per_s": len(ms) / elapsed,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    bare = await measure("bare", "apps:bare", False, args)
    bot = await measure("botkit", "apps:bot", True, args)
    print(f"{'app':8} {'median ms':>10} {'p99 ms':>10} {'acks/s':>10}")
    for name, row in (("bare", bare), ("botkit", bot)):
        print(f"{name:8} {row['median_ms']:10.2f} {row['p99_ms']:10.2f} {row['acks_per_s']:10.0f}")
    print(
        f"botkit/bare: median latency x{bot['median_ms'] / bare['median_ms']:.2f}, "
        f"throughput x{bot['acks_per_s'] / bare['acks_per_s']:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
