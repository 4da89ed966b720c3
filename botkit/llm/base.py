"""The provider interface: `stream()` yields text chunks; `complete()` gathers them into one answer."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from botkit.errors import LLMError

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolCall:
    """The model asks for `name` to be run on `arguments` (a JSON object, as text)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ChatMessage:
    """One message of a prompt. `images` are URLs shown to models that read images; an assistant
    message may carry the tool calls it made, and a `tool` message answers one by its id."""

    role: Role
    content: str
    images: tuple[str, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the model is told of it: its name, what it does, its arguments' JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ModelTurn:
    """One reply of a model that may call tools: text, tool calls, or both."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()


class Provider(Protocol):
    """A chat model. Implementations raise `LLMError` (or `LLMUnavailable`) and nothing else."""

    name: str

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        """Yield the answer's text as the model writes it."""
        ...


class ToolModel(Protocol):
    """A chat model that can call tools; `turn` with no tools must answer in text."""

    name: str

    async def turn(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]) -> ModelTurn:
        """One model reply to `messages`, offered `tools`."""
        ...


def calls_tools(provider: Provider) -> bool:
    """Whether the provider can be offered tools (it is also a `ToolModel`)."""
    return bool(getattr(provider, "calls_tools", callable(getattr(provider, "turn", None))))


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
