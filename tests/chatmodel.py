"""A fake OpenAI-compatible `/chat/completions` server, scripted per test, that records requests.

A script gets each request's JSON body and returns the assistant's message: `say("text")`, or
`call_tool("name", arg=...)` for a `tool_calls` answer. Served in-process (`provider()`), or on
loopback by `tests.servers.serve_in_thread(model.app)` for a `botkit serve` child.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from botkit.llm.openai import OpenAIProvider

Script = Callable[[dict[str, Any]], dict[str, Any]]
MODEL_BASE_URL = "http://model.test/v1"
_ids = itertools.count(1)


def say(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def call_tool(name: str, **arguments: Any) -> dict[str, Any]:
    call = {
        "id": f"call_{next(_ids)}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }
    return {"role": "assistant", "content": None, "tool_calls": [call]}


def last(body: dict[str, Any]) -> dict[str, Any]:
    """The last message of a request."""
    message: dict[str, Any] = body["messages"][-1]
    return message


class FakeChatModel:
    """Answers each `/chat/completions` request with what `script` returns, as a whole completion."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])])

    async def _complete(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        message = self.script(body)
        return JSONResponse({"object": "chat.completion", "choices": [{"index": 0, "message": message}]})

    def provider(self) -> OpenAIProvider:
        """An OpenAI provider talking to this server in-process."""
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))
        return OpenAIProvider(
            http, base_url=MODEL_BASE_URL, api_key=None, model="fake", timeout=10, max_tokens=200
        )

    @property
    def tool_rounds(self) -> list[list[str]]:
        """The tools each request offered, by name."""
        return [[tool["function"]["name"] for tool in body.get("tools", [])] for body in self.requests]
