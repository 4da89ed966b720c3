"""An OpenAI-compatible model server that streams its answer word by word, for tests across processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route


def streaming_model(answer: str, *, tokens_per_second: float = 20.0) -> Starlette:
    """`/v1/chat/completions` answering `answer` as server-sent events, one word per token."""
    pieces = answer.split(" ")

    async def complete(request: Request) -> StreamingResponse:
        await request.body()

        async def events() -> AsyncIterator[str]:
            for number, piece in enumerate(pieces):
                await asyncio.sleep(1 / tokens_per_second)
                text = piece if number == len(pieces) - 1 else piece + " "
                yield f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': text}}]})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", complete, methods=["POST"])])
