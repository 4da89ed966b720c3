"""Chat-completions messages, tools and tool calls as OpenAI-compatible servers (and MiniMax) send
and expect them: the one translation between `ChatMessage` / `ToolSpec` and the wire."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from botkit.llm.base import ChatMessage, ModelTurn, ToolCall, ToolSpec


def wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """`messages` as the `messages` array: images as `image_url` parts, tool calls and results."""
    return [_wire_message(message) for message in messages]


def _wire_message(message: ChatMessage) -> dict[str, Any]:
    wired: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.images:
        wired["content"] = [
            {"type": "text", "text": message.content},
            *({"type": "image_url", "image_url": {"url": url}} for url in message.images),
        ]
    if message.tool_calls:
        wired["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ]
    if message.tool_call_id is not None:
        wired["tool_call_id"] = message.tool_call_id
    return wired


def wire_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """`tools` as the `tools` array of function tools."""
    return [
        {
            "type": "function",
            "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
        }
        for tool in tools
    ]


class _Function(BaseModel):
    name: str = ""
    arguments: str = ""


class _WireToolCall(BaseModel):
    id: str = ""
    function: _Function


class _AssistantMessage(BaseModel):
    content: str | None = None
    tool_calls: list[_WireToolCall] | None = None


class _TurnChoice(BaseModel):
    message: _AssistantMessage


class TurnResponse(BaseModel):
    """A whole (not streamed) `chat.completion` answer."""

    choices: list[_TurnChoice] = []

    def turn(self) -> ModelTurn:
        if not self.choices:
            return ModelTurn("")
        message = self.choices[0].message
        calls = tuple(
            ToolCall(call.id or f"call_{index}", call.function.name, call.function.arguments)
            for index, call in enumerate(message.tool_calls or [])
        )
        return ModelTurn(message.content or "", calls)
