"""The provider interface: `stream()` yields text chunks; `complete()` gathers them into one answer."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from botkit.errors import LLMError

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


class Provider(Protocol):
    """A chat model. Implementations raise `LLMError` (or `LLMUnavailable`) and nothing else."""

    name: str

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        """Yield the answer's text as the model writes it."""
        ...


_THINK_BLOCK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL)


def strip_thinking(text: str) -> str:
    """Remove `<think>…</think>` reasoning blocks (an unclosed one runs to the end)."""
    return _THINK_BLOCK.sub("", text).strip()


async def complete(provider: Provider, messages: Sequence[ChatMessage]) -> str:
    """The provider's whole answer, thinking stripped; an empty answer is an `LLMError`."""
    chunks = [chunk async for chunk in provider.stream(messages)]
    answer = strip_thinking("".join(chunks))
    if not answer:
        raise LLMError(f"{provider.name} returned an empty answer")
    return answer
