"""CPU time of the botkit process per acked callback and per answered message: a measure that
other load on the machine does not bend the way it bends requests per second.

    python bench/cpu.py [--runs 3] [--acks 10000] [--answers 1000] [--only PHASE] [--quick]
                        [--out FILE] [--profile DIR]

Each run starts the stand-ins (standins.py) and `botkit serve` afresh, pinned as in run.py, and
reads the bot's utime + stime from /proc/PID/stat around a fixed amount of work, after a warm-up:

  ack      `--acks` callbacks from as many users over 50 connections, while a model that never
           answers holds up to 2,500 answers (run.py's ack phase): bot CPU from the first callback
           sent to the last ack, per callback
  answer   `--answers` messages from as many users, default settings, the model answering after
           1.5 s: bot CPU from the first callback sent to the last reply's arrival, per message
           (its ack included)

Prints each run, the median and the main thread's (the event loop's) share of it as a Markdown
table; compare two commits by running it on each. `--profile DIR` runs the bot under sample.py,
which writes where its event loop spends its time (read it for that, not for the numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # measure this checkout's botkit

import httpx  # noqa: E402
from load import send_messages  # noqa: E402
from procs import Child, bot_settings, child_env, cores, uvicorn  # noqa: E402

from botkit.lab.processes import free_port  # noqa: E402

ACK_PHASE_IN_FLIGHT = 2500  # as run.py's ack phase
ANSWER_MODEL_SECONDS = 1.5
CONNECTIONS = 50
WARMUP_MESSAGES = 200
WAIT_SECONDS = 120.0
PROFILED_STOP_SECONDS = 60.0
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(stat: Path) -> float:
    """utime + stime from a /proc stat file, in seconds: a process's (all threads) or one thread's."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass(frozen=True)
class Cpu:
    """CPU seconds of the bot, in all and on its main thread (the event loop)."""

    total: float
    main: float

    @classmethod
    def of(cls, pid: int) -> Cpu:
        proc = Path(f"/proc/{pid}")
        return cls(cpu_seconds(proc / "stat"), cpu_seconds(proc / "task" / str(pid) / "stat"))

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.total - other.total, self.main - other.main)


@dataclass(frozen=True)
class Phase:
    name: str
    unit: str
    count: int


class Run:
    """One stand-ins process and one bot, for one phase; the bot under sample.py with `profile`."""

    def __init__(self, work: Path, profile: Path | None, *, held: bool = False, **settings: str) -> None:
        server_core, load_core = cores()
        port = free_port()
        env = child_env({"BENCH_MODEL_DELAY": str(ANSWER_MODEL_SECONDS)})
        standins = [*load_core, *uvicorn("standins:standins", port, factory=True)]
        self.standins = Child("standins", standins, port, env, work)
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
        base = f"http://127.0.0.1:{port}"
        bot_port = free_port()
        env = child_env(bot_settings(base, work / "cpu.db", held=held) | settings)
        serve = ["botkit", "serve", "--host", "127.0.0.1", "--port", str(bot_port)]
        python = (
            [sys.executable, str(HERE / "sample.py"), str(profile)] if profile else [sys.executable, "-m"]
        )
        args = [*server_core, *python, *serve]
        self.bot = Child("botkit", args, bot_port, env, work)
        self.profiled = profile is not None

    async def close(self) -> None:
        await self.http.aclose()
        if self.profiled:
            # uvicorn re-raises the signal it stopped on: SIGTERM would end the process before
            # the profile is written, SIGINT raises KeyboardInterrupt. A clean stop waits for the
            # answers in hand. The profile covers the warm-up too.
            self.bot.process.send_signal(signal.SIGINT)
            self.bot.process.wait(PROFILED_STOP_SECONDS)
        else:
            self.bot.kill()
        self.standins.kill()  # it may hold thousands of model calls: no point in a clean stop

    async def replies(self, prefix: str) -> int:
        response = await self.http.get("/stats", params={"prefix": prefix})
        return len(response.json()["first_reply"])

    async def until_answered(self, prefix: str, count: int) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while await self.replies(prefix) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {await self.replies(prefix)} of {count} {prefix} messages answered")
            await asyncio.sleep(0.05)

    async def measure(self, work: Awaitable[object]) -> Cpu:
        before = Cpu.of(self.bot.process.pid)
        await work
        return Cpu.of(self.bot.process.pid) - before


def users(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n}" for n in range(count)]


async def ack_phase(work: Path, count: int, profile: Path | None) -> Cpu:
    run = Run(work, profile, held=True, BOTKIT_MAX_IN_FLIGHT=str(ACK_PHASE_IN_FLIGHT))
    try:
        await send_messages(run.bot.port, users("warm", WARMUP_MESSAGES), connections=CONNECTIONS)
        return await run.measure(send_messages(run.bot.port, users("ack", count), connections=CONNECTIONS))
    finally:
        await run.close()


async def answer_phase(work: Path, count: int, profile: Path | None) -> Cpu:
    run = Run(work, profile)
    try:
        await send_messages(run.bot.port, users("warm", WARMUP_MESSAGES), connections=CONNECTIONS)
        await run.until_answered("warm", WARMUP_MESSAGES)

        async def answers() -> None:
            await send_messages(run.bot.port, users("ans", count), connections=CONNECTIONS)
            await run.until_answered("ans", count)

        return await run.measure(answers())
    finally:
        await run.close()


PHASES: dict[str, Callable[[Path, int, Path | None], Awaitable[Cpu]]] = {
    "ack": ack_phase,
    "answer": answer_phase,
}


async def measure(phases: list[Phase], runs: int, profiles: Path | None) -> dict[str, list[Cpu]]:
    """Per phase, each run's bot CPU milliseconds per unit of work."""
    results: dict[str, list[Cpu]] = {phase.name: [] for phase in phases}
    for number in range(runs):
        for phase in phases:
            profile = profiles / f"{phase.name}-{number + 1}" if profiles else None
            with tempfile.TemporaryDirectory(prefix="botkit-cpu-") as folder:
                started = time.monotonic()
                cpu = await PHASES[phase.name](Path(folder), phase.count, profile)
                per = Cpu(cpu.total * 1000 / phase.count, cpu.main * 1000 / phase.count)
                results[phase.name].append(per)
                elapsed = time.monotonic() - started
                line = f"run {number + 1} {phase.name}: {per.total:.3f} ms, main thread {per.main:.3f} ms"
                print(f"{line} ({elapsed:.0f} s)", file=sys.stderr, flush=True)
    return results


def table(phases: list[Phase], results: dict[str, list[Cpu]]) -> str:
    runs = len(next(iter(results.values())))
    head = "| phase | bot CPU ms | " + " | ".join(f"run {n + 1}" for n in range(runs))
    lines = [head + " | median | main thread |", "|---" * (runs + 4) + "|"]
    for phase in phases:
        values = results[phase.name]
        cells = " | ".join(f"{value.total:.3f}" for value in values)
        median, main = (statistics.median(getattr(v, part) for v in values) for part in ("total", "main"))
        lines.append(f"| {phase.name} | per {phase.unit} | {cells} | {median:.3f} | {main:.3f} |")
    return "\n".join(lines)


def main() -> None:
    layout = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=layout)
    parser.add_argument("--runs", type=int, default=3, help="runs of each phase; the table shows the median")
    parser.add_argument("--acks", type=int, default=10_000, help="callbacks measured in the ack phase")
    parser.add_argument("--answers", type=int, default=1_000, help="messages measured in the answer phase")
    parser.add_argument("--only", choices=["ack", "answer"], help="run one phase only")
    parser.add_argument("--quick", action="store_true", help="one short run of each, a smoke test")
    parser.add_argument("--out", type=Path, help="also write the numbers as JSON here")
    parser.add_argument(
        "--profile", type=Path, help="sample the bot's stacks (sample.py), files per run here"
    )
    args = parser.parse_args()
    if args.quick:
        args.runs, args.acks, args.answers = 1, 500, 100
    phases = [Phase("ack", "acked callback", args.acks), Phase("answer", "answered message", args.answers)]
    phases = [phase for phase in phases if args.only in (None, phase.name)]
    _, load_core = cores()
    if load_core:  # the load client is this process: keep it off the bot's core
        os.sched_setaffinity(0, {int(load_core[-1])})
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(measure(phases, args.runs, args.profile))
    if args.out:
        summary: dict[str, Any] = {
            name: {
                "runs_ms": [cpu.total for cpu in values],
                "median_ms": statistics.median(cpu.total for cpu in values),
                "main_thread_median_ms": statistics.median(cpu.main for cpu in values),
            }
            for name, values in results.items()
        }
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(table(phases, results))


if __name__ == "__main__":
    main()
