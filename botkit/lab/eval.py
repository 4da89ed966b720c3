"""Prompt evaluation: each prompt with each provider on every conversation of a suite, answered as the bot.

Each turn is a real `C2CMessage` answered by `Handler.reply`, the service's own answering path
without the sending, and each conversation has a fresh memory, so a score reflects what users of
the deployed bot would get. `botkit eval` and the notebooks both call this.
"""

from __future__ import annotations

import importlib
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import httpx
from dotenv import set_key

from botkit.bot import Bot
from botkit.callbacks import C2CMessage
from botkit.config import LLMName, Settings
from botkit.elements import text_body
from botkit.errors import ConfigError
from botkit.handler import Handler
from botkit.lab.evalreport import STAND_IN_PROVIDERS, Check, Choice, EvalReport, EvalRow, Summary
from botkit.lab.suite import Conversation, Suite, TurnCase, load_suite
from botkit.llm import get_provider
from botkit.llm.base import Provider
from botkit.responder import AnswerKind
from botkit.store.inmemory import InMemoryStore

__all__ = [
    "EVAL_USER",
    "STAND_IN_PROVIDERS",
    "Check",
    "Choice",
    "Conversation",
    "EvalReport",
    "EvalRow",
    "Progress",
    "Suite",
    "Summary",
    "TurnCase",
    "check_answer",
    "load_suite",
    "progress_bar",
    "providers_for",
    "run_suite",
    "save_best",
    "save_prompt",
]

EVAL_USER = "eval-user"
"""The UserID evaluation messages come from."""

Progress = Callable[[int, int], None]
"""Called with (turns done, turns in all) before the first turn and after each one."""


def check_answer(case: TurnCase, answer: str, latency_s: float) -> list[Check]:
    """The suite's checks for one answer, each named after its key; text checks ignore case."""
    lowered = answer.casefold()
    checks = [Check(f"must_contain:{text}", text.casefold() in lowered) for text in case.must_contain]
    checks += [
        Check(f"must_not_contain:{text}", text.casefold() not in lowered) for text in case.must_not_contain
    ]
    checks += [
        Check(f"must_match:{p}", re.search(p, answer, re.IGNORECASE) is not None) for p in case.must_match
    ]
    checks += [
        Check(f"must_not_match:{p}", re.search(p, answer, re.IGNORECASE) is None) for p in case.must_not_match
    ]
    if case.max_chars is not None:
        checks.append(Check(f"max_chars:{case.max_chars}", len(answer) <= case.max_chars))
    if case.max_seconds is not None:
        checks.append(Check(f"max_seconds:{case.max_seconds:g}", latency_s <= case.max_seconds))
    return checks


async def run_suite(
    suite: Suite,
    settings: Settings,
    providers: Mapping[str, Provider],
    *,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
    bot: Bot | None = None,
) -> EvalReport:
    """Answer every conversation with every prompt and provider, one turn at a time, as `bot`
    (its handlers, commands and tools; each prompt of the suite in place of its own).

    Turns run one after another, never concurrently, so each latency is one answer's own.
    """
    if not providers:
        raise ValueError("name at least one provider to evaluate")
    total = len(suite.prompts) * len(providers) * sum(len(c.turns) for c in suite.conversations)
    rows: list[EvalRow] = []
    if progress is not None:
        progress(0, total)
    for prompt_name, prompt in suite.prompts.items():
        # Robot prompts would override the candidate, so only the suite's prompt is in play.
        prompt_settings = settings.model_copy(update={"system_prompt": prompt, "robot_prompts": {}})
        for provider_name, provider in providers.items():
            for conversation in suite.conversations:
                run = _Run(prompt_name, provider_name, prompt_settings, provider, clock, bot)
                async for row in run.converse(conversation):
                    rows.append(row)
                    if progress is not None:
                        progress(len(rows), total)
    return EvalReport(rows=rows, prompts=dict(suite.prompts))


class _Run:
    """One prompt with one provider; each conversation gets a fresh memory, as a new user would."""

    def __init__(
        self,
        prompt_name: str,
        provider_name: str,
        settings: Settings,
        provider: Provider,
        clock: Callable[[], float],
        bot: Bot | None,
    ) -> None:
        self._bot = bot.with_prompt(settings.system_prompt) if bot is not None else None
        self._prompt_name = prompt_name
        self._provider_name = provider_name
        self._settings = settings
        self._provider = provider
        self._clock = clock

    async def converse(self, conversation: Conversation) -> AsyncIterator[EvalRow]:
        robot = conversation.robot or self._settings.robots[0]
        # A suite's robot is served as if it were in BOTKIT_ROBOTS.
        robots = list(dict.fromkeys([*self._settings.robots, robot]))
        settings = self._settings.model_copy(update={"robots": robots})
        handler = Handler(settings=settings, provider=self._provider, store=InMemoryStore(), bot=self._bot)
        for turn, case in enumerate(conversation.turns, start=1):
            message = C2CMessage(
                from_account=EVAL_USER,
                to_account=robot,
                msg_seq=turn,
                msg_random=turn,
                msg_time=0,
                msg_body=text_body(case.user),
            )
            started = self._clock()
            answer = await handler.reply(message)
            latency = self._clock() - started
            assert answer is not None, "the conversation's robot is served and EVAL_USER is no robot"
            # The fallback is not the model's answer: checking its text would score nothing real.
            fell_back = any(model.kind is AnswerKind.FALLBACK for model in answer.answers)
            checks = [Check("no_fallback", False)] if fell_back else check_answer(case, answer.text, latency)
            yield EvalRow(
                prompt=self._prompt_name,
                provider=self._provider_name,
                conversation=conversation.name,
                turn=turn,
                user=case.user,
                answer=answer.text,
                latency_s=latency,
                checks=tuple(checks),
            )


def providers_for(names: Sequence[str], settings: Settings, http: httpx.AsyncClient) -> dict[str, Provider]:
    """One provider per name (echo, local, openai, minimax), each built as `BOTKIT_LLM=<name>` would."""
    known = get_args(LLMName)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(f"unknown provider {', '.join(unknown)}; choose from {', '.join(known)}")
    return {name: get_provider(settings.model_copy(update={"llm": name}), http) for name in names}


@contextmanager
def progress_bar(description: str = "eval") -> Iterator[Progress]:
    """A `Progress` drawn on stderr: tqdm's bar when tqdm is installed, else a counter line."""
    try:
        tqdm = importlib.import_module("tqdm").tqdm
    except ImportError:
        tqdm = None
    bar: Any = None

    def advance(done: int, total: int) -> None:
        nonlocal bar
        if tqdm is None:
            print(f"\r{description}: {done}/{total} turns", end="", file=sys.stderr, flush=True)
            return
        if bar is None:
            bar = tqdm(total=total, desc=description, unit="turn", file=sys.stderr)
        bar.update(done - bar.n)

    try:
        yield advance
    finally:
        if bar is not None:
            bar.close()
        elif tqdm is None:
            print(file=sys.stderr)


def save_prompt(prompt: str, env_file: str | Path = ".env", *, note: str | None = None) -> Path:
    """Write the prompt as `BOTKIT_SYSTEM_PROMPT` into a dotenv file, keeping its other lines.

    Double quotes with backslash escapes keep the value on one line and read back exactly; `${`
    cannot be written, since the dotenv reader behind `Settings` expands it. `note` becomes the
    comment line just above it (replacing an earlier note), saying where the prompt came from.
    """
    if "${" in prompt:
        raise ConfigError("a prompt containing '${' cannot be saved to a .env file, which would expand it")
    escaped = prompt.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    path = Path(env_file)
    set_key(path, "BOTKIT_SYSTEM_PROMPT", f'"{escaped}"', quote_mode="never")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith(_NOTE)]
    if note is not None:
        at = next(i for i, line in enumerate(lines) if line.startswith("BOTKIT_SYSTEM_PROMPT="))
        lines.insert(at, f"{_NOTE} {' '.join(note.split())}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


_NOTE = "# BOTKIT_SYSTEM_PROMPT chosen by botkit eval:"


@dataclass(frozen=True)
class Saved:
    """What `save_best` did: `path` is None when the choice was refused, and `str()` says why."""

    choice: Choice
    path: Path | None

    def __str__(self) -> str:
        if self.path is None:
            return f"not saved: {self.choice.refusal}"
        return f"saved {self.choice} to {self.path} as BOTKIT_SYSTEM_PROMPT"


def save_best(report: EvalReport, env_file: str | Path = ".env", *, suite: str | None = None) -> Saved:
    """Save the report's best prompt, unless a stand-in picked it or it ties (see `Choice.refusal`).

    The comment above the saved line names the prompt, provider, score and `suite`.
    """
    choice = report.best()
    if choice.refusal is not None:
        return Saved(choice, None)
    note = f"{choice}" + (f" on {suite}" if suite else "")
    return Saved(choice, save_prompt(report.prompts[choice.prompt], env_file, note=note))
