"""botkit's answering engine under load, in one run, against a bare ASGI app and Slack Bolt.

    python bench/run.py [--quick] [--out bench/results.json]

On loopback only. The servers under test run under uvicorn with the same settings, pinned to core
0; wrk, the raw client and the stand-ins (a Chat REST API answering at once and an OpenAI-compatible
model answering after 1.5 s, see standins.py) run on core 1. botkit runs as `botkit serve` with
BOTKIT_* settings and otherwise defaults. The phases:

  ceiling, botkit, peer   wrk, 50 connections, 10 s each: acks/s and latency of the bare app, of
                          botkit (up to 2,500 answers held meanwhile by a model slower than the
                          phase: in_flight), of Bolt, then the bare app again: the ceiling is the
                          mean of its two runs
  answering               botkit under the same wrk load with the 1.5 s model, so answers finish
                          and new ones start all through the phase: acks/s while answering flat
                          out (answering_rps), next to the replies sent meanwhile (answered)
  overhead                messages one at a time, 20/s: callback out → sendmsg in, minus model time
  drain                   2,000 messages from 2,000 users at once: last ack → last reply
  recovery                kill -9 with messages in flight, restart on the same store: kill → every
                          unfinished message answered, each exactly once (Tencent's de-dup applied)

Drain and recovery wait at most 60 s; past that they report how many were left. Writes the
results as JSON and prints a table with the targets of issue 8. `--quick` is a seconds-long smoke
run with small counts (the test suite runs it). Each run's server logs stay in a temporary folder
that is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # measure this checkout's botkit

from load import send_messages, signed_path, slack_events, wrk  # noqa: E402
from procs import Child, bot_settings, child_env, cores, uvicorn  # noqa: E402
from report import table  # noqa: E402

from botkit.httpclient import create_http_client  # noqa: E402
from botkit.lab.processes import free_port  # noqa: E402

T = TypeVar("T")

SLACK_EVENTS_PER_SECOND = 10_000  # signed beforehand; past that many, wrk sends them again


@dataclass(frozen=True)
class Profile:
    wrk_seconds: int
    warmup_seconds: int
    model_delay: float
    overhead_messages: int
    drain_messages: int
    recovery_messages: int
    wait_seconds: float
    settle_seconds: float
    ceiling_twice: bool  # before botkit and after the peer, so a drift in the machine's load shows


FULL = Profile(10, 2, 1.5, 40, 2000, 100, 60.0, 2.0, True)
QUICK = Profile(1, 0, 0.2, 5, 20, 10, 2.0, 0.3, False)
OVERHEAD_WAIT_SECONDS = 30.0
ACK_PHASE_IN_FLIGHT = 2500


class Bench:
    """One run: the stand-ins, the cores, the temporary folder, and the phases in order."""

    def __init__(self, profile: Profile, work: Path) -> None:
        self.profile = profile
        self.work = work
        self.server_core, self.load_core = cores()
        self.standins_port = free_port()
        env = child_env({"BENCH_MODEL_DELAY": str(profile.model_delay)})
        args = [*self.load_core, *uvicorn("standins:standins", self.standins_port, factory=True)]
        self.standins = Child("standins", args, self.standins_port, env, work)
        self.http = create_http_client(timeout=30, base_url=f"http://127.0.0.1:{self.standins_port}")

    async def close(self) -> None:
        await self.http.aclose()
        self.standins.stop()

    async def stats(self, prefix: str | None = None) -> dict[str, Any]:
        response = await self.http.get("/stats", params={"prefix": prefix} if prefix is not None else {})
        return dict(response.json())

    def botkit(self, name: str, store: str, *, held: bool = False, **extra: str) -> Child:
        port = free_port()
        base = f"http://127.0.0.1:{self.standins_port}"
        settings = bot_settings(base, self.work / store, held=held) | extra
        args = [*self.server_core, sys.executable, "-m", "botkit", "serve", "--host", "127.0.0.1"]
        return Child(name, [*args, "--port", str(port)], port, child_env(settings), self.work)

    def server(self, name: str, target: str, *, factory: bool = False) -> Child:
        port = free_port()
        args = [*self.server_core, *uvicorn(target, port, factory=factory)]
        env = child_env({"BENCH_SLACK_API": f"http://127.0.0.1:{self.standins_port}/slack-api/"})
        return Child(name, args, port, env, self.work)

    def load(self, child: Child, script: str, env: dict[str, str]) -> dict[str, float]:
        """A warm-up, then the measured wrk run, each request new to the server."""
        if self.profile.warmup_seconds:
            wrk(child.port, script, self.profile.warmup_seconds, self._fresh("u", 0) | env, self.load_core)
        first = SLACK_EVENTS_PER_SECOND * self.profile.warmup_seconds
        result = wrk(
            child.port, script, self.profile.wrk_seconds, self._fresh("w", first) | env, self.load_core
        )
        return {"rps": result.rps, "p50_ms": result.p50_ms, "p99_ms": result.p99_ms, "errors": result.errors}

    def _fresh(self, users: str, first: int) -> dict[str, str]:
        """Callbacks signed now, from users named USERS1, USERS2...; Slack events from number `first`."""
        now = str(int(time.time()))
        return {
            "BENCH_TIME": now,
            "BENCH_PATH": signed_path(now),
            "BENCH_PREFIX": users,
            "BENCH_FIRST": str(first),
        }

    async def ceiling(self) -> dict[str, float]:
        child = self.server("bare", "apps:bare")
        try:
            return self.load(child, "tencent.lua", {})
        finally:
            child.stop()

    async def acks(self, *, held: bool) -> dict[str, float]:
        """botkit under wrk while answers are in flight: held by the model for the whole phase, or
        answered after 1.5 s, each finished answer making room for the next."""
        # Up to 2,500 answers at once (the default is 500): the target asks for acks while 2,000 are held.
        name = "botkit-acks" if held else "botkit-answering"
        in_flight = str(ACK_PHASE_IN_FLIGHT)
        child = self.botkit(name, f"{name}.db", held=held, BOTKIT_MAX_IN_FLIGHT=in_flight)
        try:
            await self.http.post("/reset")
            sent_before = (await self.stats())["sent"]
            result = self.load(child, "tencent.lua", {})
            stats = await self.stats()
            result["in_flight"] = stats["max_held"]
            result["answered"] = stats["sent"] - sent_before
            return result
        finally:
            child.kill()  # thousands of unanswered entries: no point waiting for a clean stop

    async def peer(self) -> dict[str, float]:
        events = self.work / "slack-events.txt"
        seconds = self.profile.warmup_seconds + self.profile.wrk_seconds
        slack_events(events, SLACK_EVENTS_PER_SECOND * seconds)
        child = self.server("slack-bolt", "apps:slack", factory=True)
        try:
            return self.load(child, "slack.lua", {"BENCH_EVENTS": str(events), "BENCH_PATH": "/slack/events"})
        finally:
            child.stop()

    async def until(
        self, done: Callable[[dict[str, Any]], bool], prefix: str, deadline: float
    ) -> dict[str, Any]:
        """Poll the stand-ins' record of users named PREFIX… until `done` holds or the deadline passes."""
        while True:
            stats = await self.stats(prefix)
            if done(stats) or time.monotonic() > deadline:
                return stats
            await asyncio.sleep(0.05)

    def all_answered(self, users: list[str]) -> Callable[[dict[str, Any]], bool]:
        return lambda stats: len(stats["first_reply"]) >= len(users)

    async def overhead(self) -> dict[str, Any]:
        """One message at a time, 20 a second: how long botkit adds around the model's answer."""
        users = [f"ovh{n}" for n in range(self.profile.overhead_messages)]
        child = self.botkit("botkit-overhead", "overhead.db")
        try:
            sent, _ = await send_messages(child.port, users, connections=1, interval=0.05)
            deadline = time.monotonic() + min(self.profile.wait_seconds, OVERHEAD_WAIT_SECONDS)
            stats = await self.until(self.all_answered(users), "ovh", deadline)
        finally:
            child.kill()
        replied, model = stats["first_reply"], stats["model_seconds"]
        added = [(replied[u] - sent[u] - model[u]) * 1000 for u in users if u in replied and u in model]
        return {"overhead_p50_ms": statistics.median(added) if added else None}

    async def drain(self) -> dict[str, Any]:
        """Many users at once, each message new: how long after the last ack the last answer goes out."""
        users = [f"drn{n}" for n in range(self.profile.drain_messages)]
        child = self.botkit("botkit-drain", "drain.db")
        try:
            _, last_ack = await send_messages(child.port, users, connections=50)
            stats = await self.until(self.all_answered(users), "drn", last_ack + self.profile.wait_seconds)
        finally:
            child.kill()
        left = len(users) - len(stats["first_reply"])
        drain_s = None if left else max(stats["first_reply"].values()) - last_ack
        return {"drain_s": drain_s, "drain_left": left}

    async def recovery(self) -> dict[str, Any]:
        """kill -9 while the model holds answers, restart on the same store, count each user's replies."""
        users = [f"rec{n}" for n in range(self.profile.recovery_messages)]
        child = self.botkit("botkit-recovery", "recovery.db")
        try:
            await send_messages(child.port, users, connections=10)
            await self.until(lambda stats: stats["held"] > 0, "rec", time.monotonic() + 5)
        finally:
            child.kill()
        killed = time.monotonic()
        answered = (await self.stats("rec"))["first_reply"]
        unfinished = [u for u in users if u not in answered]
        child = self.botkit("botkit-recovery-restarted", "recovery.db")
        restart_s = time.monotonic() - killed
        try:
            await self.until(self.all_answered(users), "rec", killed + self.profile.wait_seconds)
            # A repeat comes late, if at all: count doubles after a pause, once the model holds nothing.
            await asyncio.sleep(self.profile.settle_seconds)
            stats = await self.until(lambda stats: stats["held"] == 0, "rec", time.monotonic() + 5)
        finally:
            child.stop()
        replied = stats["first_reply"]
        lost = len(users) - len(replied)
        return {
            "recovery_s": None if lost else max((replied[u] - killed for u in unfinished), default=0.0),
            "recovery_unfinished": len(unfinished),
            "recovery_lost": lost,
            "recovery_doubled": sum(1 for count in stats["distinct_replies"].values() if count > 1),
            "restart_s": restart_s,
        }


def stack() -> str:
    """What the servers run on: uvicorn picks uvloop and httptools when they are installed."""
    names = [name for name in ("uvloop", "httptools") if importlib.util.find_spec(name)]
    extras = f" with {' and '.join(names)}" if names else " (asyncio, h11)"
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, uvicorn{extras}"
    )


async def timed(name: str, phase: Awaitable[T]) -> T:
    """Await one phase, telling stderr how long it took, so a slow run shows where."""
    started = time.monotonic()
    result = await phase
    print(f"{name}: {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return result


async def run(profile: Profile) -> dict[str, Any]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="botkit-bench-") as folder:
        bench = Bench(profile, Path(folder))
        try:
            ceilings = [await timed("ceiling", bench.ceiling())]
            acks = await timed("acks", bench.acks(held=True))
            answering = await timed("answering", bench.acks(held=False))
            peer = await timed("peer", bench.peer())
            if profile.ceiling_twice:
                ceilings.append(await timed("ceiling again", bench.ceiling()))
            ceiling = {key: statistics.mean(one[key] for one in ceilings) for key in ceilings[0]}
            results: dict[str, Any] = {
                "ceiling_rps": ceiling["rps"],
                "ceiling_runs_rps": [one["rps"] for one in ceilings],
                "botkit_rps": acks["rps"],
                "peer_rps": peer["rps"],
                "botkit_ratio": acks["rps"] / ceiling["rps"],
                "peer_ratio": peer["rps"] / ceiling["rps"],
                "ack_p50_ms": acks["p50_ms"],
                "ack_p99_ms": acks["p99_ms"],
                "ack_errors": acks["errors"],
                "ceiling_errors": sum(one["errors"] for one in ceilings),
                "peer_errors": peer["errors"],
                "ceiling_p99_ms": ceiling["p99_ms"],
                "peer_p99_ms": peer["p99_ms"],
                "in_flight": acks["in_flight"],
                "answering_rps": answering["rps"],
                "answering_ratio": answering["rps"] / ceiling["rps"],
                "answering_p99_ms": answering["p99_ms"],
                "answering_in_flight": answering["in_flight"],
                "answered": answering["answered"],
            }
            results |= await timed("overhead", bench.overhead())
            results |= await timed("drain", bench.drain())
            results |= await timed("recovery", bench.recovery())
            results["rest_refused"] = (await bench.stats())["refused"]
        finally:
            await bench.close()
    results["wait_s"] = profile.wait_seconds
    results["run_s"] = time.monotonic() - started
    results["machine"] = stack()
    return results


def main() -> None:
    layout = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=layout)
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run with small counts")
    parser.add_argument("--out", type=Path, default=HERE / "results.json", help="where to write the results")
    args = parser.parse_args()
    profile = QUICK if args.quick else FULL
    results = asyncio.run(run(profile))
    results["quick"] = args.quick
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
