"""CPU time of the botkit process per acked callback and per answered message: a measure that
other load on the machine does not bend the way it bends requests per second.

    python bench/cpu.py [--runs 3] [--acks 10000] [--answers 1000] [--quick] [--out FILE]

Each run starts the stand-ins (standins.py) and `botkit serve` afresh, pinned as in run.py, and
reads the bot's utime + stime from /proc/PID/stat around a fixed amount of work, after a warm-up:

  ack      `--acks` callbacks from as many users over 50 connections, while a model that never
           answers holds up to 2,500 answers (run.py's ack phase): bot CPU from the first callback
           sent to the last ack, per callback
  answer   `--answers` messages from as many users, default settings, the model answering after
           1.5 s: bot CPU from the first callback sent to the last reply's arrival, per message
           (its ack included)

Prints each run and the median as a Markdown table; compare two commits by running it on each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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
from apps import KEY, SDKAPPID, TOKEN  # noqa: E402
from load import free_port, send_messages  # noqa: E402
from procs import Child, child_env, cores, uvicorn  # noqa: E402

HOLD_SECONDS = 3600.0  # the model of the ack phase: longer than any run
ACK_PHASE_IN_FLIGHT = 2500  # as run.py's ack phase
ANSWER_MODEL_SECONDS = 1.5
CONNECTIONS = 50
WARMUP_MESSAGES = 200
WAIT_SECONDS = 120.0
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass(frozen=True)
class Phase:
    name: str
    unit: str
    count: int


class Run:
    """One stand-ins process and one bot, for one phase."""

    def __init__(self, work: Path, model_seconds: float, **settings: str) -> None:
        server_core, load_core = cores()
        port = free_port()
        env = child_env({"BENCH_MODEL_DELAY": str(model_seconds)})
        standins = [*load_core, *uvicorn("standins:standins", port, factory=True)]
        self.standins = Child("standins", standins, port, env, work)
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
        base = f"http://127.0.0.1:{port}"
        bot_port = free_port()
        env = child_env(
            {
                "BOTKIT_SDKAPPID": str(SDKAPPID),
                "BOTKIT_KEY": KEY,
                "BOTKIT_CALLBACK_TOKEN": TOKEN,
                "BOTKIT_API_BASE": base,
                "BOTKIT_LLM": "openai",
                "BOTKIT_LLM_BASE_URL": f"{base}/v1",
                "BOTKIT_STORE": f"sqlite:///{work / f'cpu-{bot_port}.db'}",
            }
            | settings
        )
        args = [*server_core, sys.executable, "-m", "botkit", "serve", "--host", "127.0.0.1"]
        self.bot = Child("botkit", [*args, "--port", str(bot_port)], bot_port, env, work)

    async def close(self) -> None:
        await self.http.aclose()
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

    async def measure(self, work: Callable[[], Awaitable[None]]) -> float:
        pid = self.bot.process.pid
        before = cpu_seconds(pid)
        await work()
        return cpu_seconds(pid) - before


def users(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n}" for n in range(count)]


async def ack_phase(work: Path, count: int) -> float:
    run = Run(work, HOLD_SECONDS, BOTKIT_MAX_IN_FLIGHT=str(ACK_PHASE_IN_FLIGHT))
    try:
        await send_messages(run.bot.port, users("warm", WARMUP_MESSAGES), connections=CONNECTIONS)

        async def acks() -> None:
            await send_messages(run.bot.port, users("ack", count), connections=CONNECTIONS)

        return await run.measure(acks) / count
    finally:
        await run.close()


async def answer_phase(work: Path, count: int) -> float:
    run = Run(work, ANSWER_MODEL_SECONDS)
    try:
        await send_messages(run.bot.port, users("warm", WARMUP_MESSAGES), connections=CONNECTIONS)
        await run.until_answered("warm", WARMUP_MESSAGES)

        async def answers() -> None:
            await send_messages(run.bot.port, users("ans", count), connections=CONNECTIONS)
            await run.until_answered("ans", count)

        return await run.measure(answers) / count
    finally:
        await run.close()


async def measure(phases: list[Phase], runs: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {phase.name: [] for phase in phases}
    for number in range(runs):
        for phase in phases:
            with tempfile.TemporaryDirectory(prefix="botkit-cpu-") as folder:
                started = time.monotonic()
                do = ack_phase if phase.name == "ack" else answer_phase
                results[phase.name].append(await do(Path(folder), phase.count) * 1000)
                elapsed = time.monotonic() - started
                line = f"run {number + 1} {phase.name}: {results[phase.name][-1]:.3f} ms ({elapsed:.0f} s)"
                print(line, file=sys.stderr, flush=True)
    return results


def table(phases: list[Phase], results: dict[str, list[float]]) -> str:
    runs = len(next(iter(results.values())))
    head = "| phase | bot CPU ms | " + " | ".join(f"run {n + 1}" for n in range(runs)) + " | median |"
    lines = [head, "|---" * (runs + 3) + "|"]
    for phase in phases:
        values = results[phase.name]
        cells = " | ".join(f"{value:.3f}" for value in values)
        lines.append(f"| {phase.name} | per {phase.unit} | {cells} | {statistics.median(values):.3f} |")
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
    args = parser.parse_args()
    if args.quick:
        args.runs, args.acks, args.answers = 1, 500, 100
    phases = [Phase("ack", "acked callback", args.acks), Phase("answer", "answered message", args.answers)]
    phases = [phase for phase in phases if args.only in (None, phase.name)]
    _, load_core = cores()
    if load_core:  # the load client is this process: keep it off the bot's core
        os.sched_setaffinity(0, {int(load_core[-1])})
    results = asyncio.run(measure(phases, args.runs))
    if args.out:
        medians = {name: statistics.median(values) for name, values in results.items()}
        summary: dict[str, Any] = {"runs_ms": results, "median_ms": medians}
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(table(phases, results))


if __name__ == "__main__":
    main()
