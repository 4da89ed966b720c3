"""A deterministic provider: repeats the last user message. For tests and as the offline fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from botkit.llm.base import ChatMessage


class EchoProvider:
    """Answers `"echo: <last user message>"`, streamed word by word."""

    name = "echo"

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        last = next((m.content for m in reversed(messages) if m.role == "user"), "")
        words = f"echo: {last}".split(" ")
        for index, word in enumerate(words):
            yield word if index == len(words) - 1 else word + " "
