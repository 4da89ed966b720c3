"""A concurrency cap for one provider: at most `limit` answers stream from it at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import cast

from botkit.llm.base import ChatMessage, ModelTurn, Provider, ToolModel, ToolSpec, calls_tools


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

    @property
    def calls_tools(self) -> bool:
        return calls_tools(self._provider)

    async def turn(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]) -> ModelTurn:
        async with self._slots:
            return await cast(ToolModel, self._provider).turn(messages, tools)
