"""Streamed replies: how soon the user sees text, and the whole answer, in each `BOTKIT_STREAM` mode.

    python bench/stream.py [--runs 5] [--models local,paced] [--modes off,robot,native,edit]

The bot and the sandbox run in this process (`InProcessSandbox`), on the real clock. For each model and
mode, `--runs` users each ask one question (after one untimed warm-up); a poller reads the sandbox's
history every 2 ms. "first text" is the time from the callback to the first reply text in the
history, "whole answer" to its last change. Models: `local` is the embedded SmolLM2 (botkit[local]);
`paced` a stand-in that writes a 60-word answer at 20 tokens a second. Prints a table; medians.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from pydantic import SecretStr

from botkit.app import create_app
from botkit.config import Settings, StreamMode
from botkit.llm.base import ChatMessage, Provider
from sandbox.harness import SANDBOX_BASE_URL, InProcessSandbox
from sandbox.streams import visible_text

QUESTIONS = [
    "What is a chatbot? Answer in three sentences.",
    "Explain what a password manager does.",
    "Give me three tips for writing clear emails.",
    "Why is the sky blue?",
    "What should I pack for a weekend hike?",
]
PACED_ANSWER = " ".join(
    (
        "A stand-in answer streams at twenty tokens a second, one word each, so every mode can be timed. " * 4
    ).split()[:60]
)
POLL_SECONDS = 0.002


class PacedModel:
    """A model stand-in: the same answer, one word every 1/`tokens_per_second` seconds."""

    name = "paced"

    def __init__(self, tokens_per_second: float = 20.0) -> None:
        self.delay = 1 / tokens_per_second

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        for word in PACED_ANSWER.split(" "):
            await asyncio.sleep(self.delay)
            yield word + " "


@dataclass(frozen=True)
class Timing:
    first: float
    whole: float
    updates: int


def settings(mode: StreamMode) -> Settings:
    return Settings(
        sdkappid=1400000000,
        key=SecretStr("bench-stream-key"),
        callback_token=SecretStr("bench-stream-token"),
        api_base=SANDBOX_BASE_URL,
        robots=["@RBT#001"],
        llm="echo",
        store="memory://",
        stream=mode,
        user_rate_per_minute=0,
    )


async def ask(local: InProcessSandbox, user: str, question: str) -> Timing:
    """Time one question: callback sent → first text in history → last change of the reply."""
    local.add_user(user)
    changes: list[tuple[float, str]] = []
    started = time.perf_counter()
    sent = local.send_c2c(user, local.robot, question)

    async def watch() -> None:
        while True:
            text = "\n".join(visible_text(reply.body) for reply in local.c2c_replies(sent))
            if text and (not changes or changes[-1][1] != text):
                changes.append((time.perf_counter() - started, text))
            await asyncio.sleep(POLL_SECONDS)

    watcher = asyncio.create_task(watch())
    await local.settle()
    await asyncio.sleep(5 * POLL_SECONDS)  # the watcher reads the last change
    watcher.cancel()
    assert changes, f"no reply to {question!r}"
    return Timing(first=changes[0][0], whole=changes[-1][0], updates=len(changes))


async def measure(model: Provider, mode: StreamMode, runs: int) -> list[Timing]:
    local = InProcessSandbox(settings(mode))
    bot = create_app(settings(mode), transport=local.transport, provider=model)
    try:
        async with local.running(bot):
            await ask(local, "warmup", QUESTIONS[0])
            return [await ask(local, f"{mode}{n}", QUESTIONS[n % len(QUESTIONS)]) for n in range(runs)]
    finally:
        local.close()


def models(names: Sequence[str]) -> dict[str, Provider]:
    found: dict[str, Provider] = {}
    for name in names:
        if name == "paced":
            found[name] = PacedModel()
        elif name == "local":
            from botkit.llm.local import LocalProvider

            if not LocalProvider.available():
                print("skipping local: pip install 'botkit[local]'", file=sys.stderr)
                continue
            found[name] = LocalProvider()
        else:
            raise SystemExit(f"unknown model {name!r}: local or paced")
    return found


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", default="local,paced")
    parser.add_argument("--modes", default="off,robot,native,edit")
    options = parser.parse_args(argv)
    modes: list[StreamMode] = options.modes.split(",")
    print("| model | mode | first text (ms) | whole answer (ms) | first / whole | updates seen |")
    print("|---|---|---:|---:|---:|---:|")
    for name, model in models(options.models.split(",")).items():
        for mode in modes:
            timings = await measure(model, mode, options.runs)
            first = statistics.median(t.first for t in timings) * 1000
            whole = statistics.median(t.whole for t in timings) * 1000
            updates = statistics.median(t.updates for t in timings)
            print(f"| {name} | {mode} | {first:.0f} | {whole:.0f} | {first / whole:.2f} | {updates:g} |")


if __name__ == "__main__":
    asyncio.run(main())
