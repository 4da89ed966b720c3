"""Tools: typed async Python functions the model may call, described to it by their signature.

`Tool.from_function` turns `async def lookup_order(order_id: str) -> dict` and its docstring into
an OpenAI-style function tool (JSON schema by pydantic). `run_tools` is the loop: ask the model, run
the tools it calls, give it their results, and ask again, for a bounded number of rounds. A tool
that raises gives the model the error as its result, so it can say so or try something else.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from botkit.context import Context
from botkit.errors import ConfigError
from botkit.llm.base import ChatMessage, ToolCall, ToolModel, ToolSpec
from botkit.logmask import scrub

log = logging.getLogger("botkit.tools")

ToolFunction = Callable[..., Awaitable[Any]]

MAX_RESULT_CHARS = 8_000
"""A tool result longer than this is cut before the model reads it."""


@dataclass(frozen=True)
class Tool:
    """One function the model may call: its name, what it does, its arguments' schema."""

    name: str
    description: str
    arguments: type[BaseModel]
    function: ToolFunction
    context_parameter: str | None = None

    @classmethod
    def from_function(cls, function: ToolFunction, *, name: str | None = None) -> Tool:
        """Describe `function` from its signature and docstring; its first docstring paragraph
        tells the model what it does, and `Args:` lines describe the parameters."""
        if not inspect.iscoroutinefunction(function):
            raise ConfigError(f"tool {function.__name__!r} must be an async function")
        summary, described = _parse_docstring(inspect.getdoc(function) or "")
        hints = get_type_hints(function, include_extras=True)
        fields: dict[str, Any] = {}
        context_parameter = None
        for parameter in inspect.signature(function).parameters.values():
            annotation = hints.get(parameter.name, Any)
            if annotation is Context:
                context_parameter = parameter.name
                continue
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            fields[parameter.name] = (annotation, _field(default, described.get(parameter.name)))
        arguments = create_model(
            f"{function.__name__}_arguments",
            __config__=ConfigDict(extra="forbid"),
            **fields,
        )
        return cls(name or function.__name__, summary, arguments, function, context_parameter)

    @property
    def spec(self) -> ToolSpec:
        """The tool as the model is told of it."""
        schema = self.arguments.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(self.name, self.description, schema)

    async def call(self, arguments: str, context: Context | None) -> str:
        """Run the tool on the model's JSON arguments; the result (or the error) as text."""
        try:
            parsed = self.arguments.model_validate_json(arguments or "{}")
        except ValidationError as exc:
            return _error(f"invalid arguments: {exc.errors(include_url=False)[0]['msg']}")
        kwargs = dict(parsed)
        if self.context_parameter:
            kwargs[self.context_parameter] = context
        try:
            result = await self.function(**kwargs)
        except Exception as exc:  # the model is told, the bot goes on
            log.warning("tool %s failed: %s", self.name, scrub(f"{type(exc).__name__}: {exc}"))
            return _error(f"{type(exc).__name__}: {exc}")
        text = result if isinstance(result, str) else json.dumps(result, default=str, ensure_ascii=False)
        return text[:MAX_RESULT_CHARS]


def _field(default: Any, description: str | None) -> Any:
    return Field(default, description=description) if description else default


def _error(message: str) -> str:
    return json.dumps({"error": scrub(message)}, ensure_ascii=False)


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary paragraph, and `name: text` lines under `Args:` (Google style)."""
    summary = doc.partition("\n\n")[0]
    described: dict[str, str] = {}
    in_args = False
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in {"Args:", "Arguments:", "Parameters:"}:
            in_args = True
        elif in_args and ":" in stripped and not stripped.endswith(":"):
            name, _, text = stripped.partition(":")
            described[name.split(" ")[0].strip()] = text.strip()
        elif in_args and not stripped:
            in_args = False
    return " ".join(summary.split()), described


async def run_tools(
    model: ToolModel,
    messages: Sequence[ChatMessage],
    tools: Sequence[Tool],
    *,
    context: Context | None,
    max_rounds: int,
) -> str:
    """The model's final answer after at most `max_rounds` rounds of tool calls.

    At the limit the model is asked once more with no tools offered, so it answers with what
    it has rather than calling again.
    """
    by_name = {tool.name: tool for tool in tools}
    specs = [tool.spec for tool in tools]
    conversation = list(messages)
    for round_number in range(1, max_rounds + 1):
        turn = await model.turn(conversation, specs)
        if not turn.tool_calls:
            return turn.text
        conversation.append(ChatMessage("assistant", turn.text, tool_calls=turn.tool_calls))
        for call in turn.tool_calls:
            result = await _call_one(by_name, call, context, round_number)
            conversation.append(ChatMessage("tool", result, tool_call_id=call.id))
    log.warning(
        "%s: tool round limit (%d) reached; asking for an answer without tools", model.name, max_rounds
    )
    return (await model.turn(conversation, [])).text


async def _call_one(
    by_name: dict[str, Tool], call: ToolCall, context: Context | None, round_number: int
) -> str:
    tool = by_name.get(call.name)
    if tool is None:
        result = _error(f"no tool named {call.name!r}; the tools are {sorted(by_name)}")
    else:
        result = await tool.call(call.arguments, context)
    log.info("tool call (round %d): %s(%s) -> %s", round_number, call.name, call.arguments, result[:200])
    return result
