"""A concurrency cap for one provider: at most `limit` answers stream from it at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from botkit.llm.base import ChatMessage, Provider


class Limited:
    """Wraps a provider so that extra answers wait their turn instead of overloading the model server."""

    def __init__(self, provider: Provider, limit: int) -> None:
        self.name = provider.name
        self._provider = provider
        self._slots = asyncio.Semaphore(limit)

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        async with self._slots:
            async for chunk in self._provider.stream(messages):
                yield chunk
