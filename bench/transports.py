"""HTTP clients holding thousands of answers in flight: which transport goes under botkit's httpx.

    python bench/transports.py [--sizes 1000,2000] [--deadline 15]

A child process serves two loopback stand-ins under uvicorn: a model that streams its answer after
1.5 s and a Chat REST API that answers at once. For each candidate client and each size N this
process starts N concurrent "model call, then `sendmsg`" exchanges on a fresh client and times the
last one; ideal is about 1.5 s. A round that has not finished by the deadline is cut off and shows
how many exchanges got through; a candidate cut off at one size is not run at the next.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from botkit.httpclient import create_http_client
from botkit.lab.processes import free_port
from botkit.lab.waiting import await_until
from botkit.restmodels import Envelope
from botkit.restrequests import SendC2CRequest
from botkit.transport import PooledTransport

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import post as raw_post

MODEL_SECONDS = 1.5
MODEL_PATH = "/v1/chat/completions"
REST_PATH = "/v4/openim/sendmsg"
MODEL_BODY = json.dumps(
    {"model": "stand-in", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
)
REST_BODY = json.dumps(SendC2CRequest(to_account="user1", msg_random=1, msg_body=[]).to_wire())
CHUNK = 'data: {"choices":[{"delta":{"content":"hello"}}]}\n\n'
REST_OK = json.dumps(Envelope.ok({"MsgTime": 1, "MsgKey": "k"}).to_wire())

Post = Callable[[str, str], Awaitable[int]]
Candidate = Callable[[int], AbstractAsyncContextManager[Post]]


async def standins(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The model answers after MODEL_SECONDS as a short SSE stream; the REST API at once."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    if scope["path"] == MODEL_PATH:
        await asyncio.sleep(MODEL_SECONDS)
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for part in (CHUNK, CHUNK, "data: [DONE]\n\n"):
            await send({"type": "http.response.body", "body": part.encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    body = REST_OK.encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run(standins, host="127.0.0.1", port=port, log_level="warning", backlog=4096, access_log=False)


# The candidates: each opens a fresh client for one round and yields a POST that returns the status.


@asynccontextmanager
async def raw_asyncio(size: int) -> AsyncIterator[Post]:
    """Reference ceiling: a keep-alive HTTP/1.1 connection per exchange, no client library."""
    connections: dict[int, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}

    async def post(url: str, body: str) -> int:
        task = id(asyncio.current_task())
        target = urlsplit(url)
        if task not in connections:
            connections[task] = await asyncio.open_connection(target.hostname, target.port)
        reader, writer = connections[task]
        return await raw_post(reader, writer, target.path, body.encode())

    try:
        yield post
    finally:
        for _, writer in connections.values():
            writer.close()


@asynccontextmanager
async def aiohttp_session(size: int) -> AsyncIterator[Post]:
    """aiohttp's own API, unlimited pool: the reference for the transports built on it."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def post(url: str, body: str) -> int:
            async with session.post(url, data=body, headers={"content-type": "application/json"}) as answer:
                await answer.read()
                return answer.status

        yield post


def httpx_candidate(make: Callable[[int], httpx.AsyncClient]) -> Candidate:
    @asynccontextmanager
    async def candidate(size: int) -> AsyncIterator[Post]:
        async with make(size) as client:

            async def post(url: str, body: str) -> int:
                answer = await client.post(url, content=body, headers={"content-type": "application/json"})
                return answer.status_code

            yield post

    return candidate


def generous_limits(size: int) -> httpx.Limits:
    return httpx.Limits(max_connections=size, max_keepalive_connections=size)


CANDIDATES: dict[str, Candidate] = {
    "raw asyncio (ceiling)": raw_asyncio,
    "aiohttp 3 ClientSession": aiohttp_session,
    "httpx, own pool (limits = N)": httpx_candidate(
        lambda size: httpx.AsyncClient(limits=generous_limits(size), timeout=60)
    ),
    "httpx + httpx-aiohttp (limits = N)": httpx_candidate(
        lambda size: httpx.AsyncClient(transport=AiohttpTransport(limits=generous_limits(size)), timeout=60)
    ),
    "httpx over botkit's transport (limits = N)": httpx_candidate(
        lambda size: httpx.AsyncClient(transport=PooledTransport(generous_limits(size)), timeout=60)
    ),
    "botkit create_http_client": httpx_candidate(lambda size: create_http_client(timeout=60)),
}


@dataclass
class Round:
    seconds: float
    done: int
    failed: int
    cut_off: bool
    first_error: str = ""

    def cell(self, size: int) -> str:
        if self.cut_off:
            return f"cut off, {self.done}/{size} done in {self.seconds:.0f} s"
        return f"{self.seconds:.2f} s" + (
            f" ({self.failed} failed: {self.first_error})" if self.failed else ""
        )


async def run_round(candidate: Candidate, base: str, size: int, deadline: float) -> Round:
    async with candidate(size) as post:

        async def exchange() -> None:
            for url, body in ((base + MODEL_PATH, MODEL_BODY), (base + REST_PATH, REST_BODY)):
                status = await post(url, body)
                if status != 200:
                    raise RuntimeError(f"HTTP {status}")

        started = time.perf_counter()
        tasks = [asyncio.create_task(exchange()) for _ in range(size)]
        finished, pending = await asyncio.wait(tasks, timeout=deadline)
        elapsed = time.perf_counter() - started
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    errors = [repr(error)[:60] for task in finished if (error := task.exception()) is not None]
    return Round(
        elapsed, len(finished) - len(errors), len(errors), bool(pending), errors[0] if errors else ""
    )


async def wait_ready(port: int, child: subprocess.Popen[bytes]) -> None:
    async def listens() -> bool:
        if child.poll() is not None:
            raise RuntimeError(f"the stand-in server exited with {child.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    await await_until(listens, timeout=30, failure="the stand-in server did not start", interval=0.1)


async def measure(port: int, sizes: list[int], deadline: float) -> dict[str, dict[int, Round]]:
    base = f"http://127.0.0.1:{port}"
    results: dict[str, dict[int, Round]] = {}
    for name, candidate in CANDIDATES.items():
        results[name] = {}
        for size in sizes:
            outcome = await run_round(candidate, base, size, deadline)
            results[name][size] = outcome
            print(f"  {name}, {size}: {outcome.cell(size)}", file=sys.stderr, flush=True)
            if outcome.cut_off:
                break
    return results


def table(results: dict[str, dict[int, Round]], sizes: list[int]) -> str:
    header = ["transport under the client", *(f"{size:,} in flight" for size in sizes)]
    rows = [
        [name, *(rounds[size].cell(size) if size in rounds else "not run" for size in sizes)]
        for name, rounds in results.items()
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), *lines])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sizes", default="1000,2000", help="comma-separated numbers in flight")
    parser.add_argument("--deadline", type=float, default=15.0, help="seconds before a round is cut off")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    sizes = [int(size) for size in args.sizes.split(",")]
    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=os.environ.copy())
    try:
        import uvloop

        runner: Callable[[Coroutine[Any, Any, Any]], Any] = uvloop.run
        loop_name = "uvloop"
    except ImportError:
        runner, loop_name = asyncio.run, "asyncio"
    try:
        runner(wait_ready(port, child))
        results = runner(measure(port, sizes, args.deadline))
    finally:
        child.terminate()
        child.wait(10)
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("httpx", "httptools", "aiohttp", "httpx-aiohttp")
    )
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print("\nN concurrent exchanges (1.5 s model call, then sendmsg); ideal ~1.5 s")
    print(f"client on {loop_name}; {versions}; load average {load} on {os.cpu_count()} cores")
    print(table(results, sizes))


if __name__ == "__main__":
    main()
