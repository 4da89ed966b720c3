"""`Bot`: what a bot author writes against: handlers, commands, middleware, tools, per-robot parts.

    bot = Bot(prompt="You are the support desk of Acme.")

    @bot.tool
    async def order_status(order_id: str) -> str:
        "The shipping status of an order."
        return orders[order_id]

    @bot.command("/hours", help="Opening hours")
    async def hours(ctx: Context) -> None:
        await ctx.reply("9:00-18:00, Monday to Friday")

A message goes through the middleware (outermost first), then a command when its text starts
with one, else the `@bot.message` handlers in order until one replies, else the default: the
robot's prompt, the conversation's memory and the model (with the tools). A bot with nothing
registered answers exactly as a bot configured by environment alone.
"""

from __future__ import annotations

import copy
import importlib
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

from botkit.config import Settings
from botkit.context import Context
from botkit.elements import Element
from botkit.errors import ConfigError
from botkit.llm.base import Provider, calls_tools
from botkit.tools import Tool, ToolFunction

Handler = Callable[[Context], Awaitable[None]]
Next = Callable[[], Awaitable[None]]
Middleware = Callable[[Context, Next], Awaitable[None]]
ChatKind = Literal["c2c", "group"]
H = TypeVar("H", bound=Handler)
T = TypeVar("T", bound=ToolFunction)

log = logging.getLogger("botkit.bot")

RESET_REPLY = "Done: I have forgotten our conversation."


@dataclass(frozen=True)
class Route:
    """A message handler and the filters a message must pass to reach it."""

    handler: Handler
    chat: ChatKind | None = None
    pattern: re.Pattern[str] | None = None
    element: type | None = None

    def matches(self, ctx: Context) -> bool:
        if self.chat is not None and self.chat != ("group" if ctx.is_group else "c2c"):
            return False
        if self.pattern is not None and not self.pattern.search(ctx.text):
            return False
        return self.element is None or bool(ctx.elements_of(self.element))


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    help: str


class Bot:
    """A bot: the default answer (prompt + memory + model) plus whatever is registered on it."""

    def __init__(self, prompt: str | None = None, *, max_tool_rounds: int = 4) -> None:
        self.prompt = prompt
        """The system prompt; None keeps the robot's prompt from the settings."""
        self.max_tool_rounds = max_tool_rounds
        self._routes: list[Route] = []
        self._commands: dict[str, Command] = {}
        self._middleware: list[Middleware] = []
        self._tools: dict[str, Tool] = {}
        self._robots: dict[str, Bot] = {}
        self.command("/reset", help="Forget this conversation")(_reset)
        self.command("/help", help="List the commands")(_help)

    @overload
    def message(self, handler: H) -> H: ...
    @overload
    def message(
        self,
        *,
        chat: ChatKind | None = None,
        pattern: str | re.Pattern[str] | None = None,
        element: type[Element] | None = None,
    ) -> Callable[[H], H]: ...
    def message(
        self,
        handler: Handler | None = None,
        *,
        chat: ChatKind | None = None,
        pattern: str | re.Pattern[str] | None = None,
        element: type[Element] | None = None,
    ) -> Any:
        """Register a handler, optionally only for one kind of chat, a text pattern (searched in
        the text without mentions) or messages holding an element type (e.g. `ImageElem`)."""
        compiled = re.compile(pattern) if isinstance(pattern, str) else pattern

        def register(function: Handler) -> Handler:
            self._routes.append(Route(function, chat, compiled, element))
            return function

        return register(handler) if handler is not None else register

    def command(self, name: str, *, help: str = "") -> Callable[[H], H]:
        """Register a slash command: `/name` at the start of the text; the rest is `ctx.args`."""
        if not re.fullmatch(r"/[\w-]+", name):
            raise ConfigError(f"a command is a slash and a word, like '/reset', not {name!r}")

        def register(function: H) -> H:
            self._commands[name.lower()] = Command(name, function, help or _summary(function))
            return function

        return register

    def middleware(self, function: Middleware) -> Middleware:
        """Register middleware: `async def m(ctx, call_next)`; not calling `call_next` stops the
        message there (after `ctx.reply(...)`, or silently)."""
        self._middleware.append(function)
        return function

    @overload
    def tool(self, function: T) -> T: ...
    @overload
    def tool(self, *, name: str | None = None) -> Callable[[T], T]: ...
    def tool(self, function: ToolFunction | None = None, *, name: str | None = None) -> Any:
        """Offer an async function to the model as a tool (its schema from its signature)."""

        def register(fn: ToolFunction) -> ToolFunction:
            tool = Tool.from_function(fn, name=name)
            self._tools[tool.name] = tool
            return fn

        return register(function) if function is not None else register

    def robot(self, robot_id: str, *, prompt: str | None = None) -> Bot:
        """The part of this bot one robot answers with: its own prompt, handlers and commands,
        tried before this bot's; this bot's middleware and tools apply to it too."""
        if robot_id not in self._robots:
            child = Bot(prompt, max_tool_rounds=self.max_tool_rounds)
            child._commands.clear()  # the built-in commands are this bot's, so its overrides hold
            self._robots[robot_id] = child
        elif prompt is not None:
            self._robots[robot_id].prompt = prompt
        return self._robots[robot_id]

    def with_prompt(self, prompt: str | None) -> Bot:
        """This bot with every robot's part answering with `prompt` (what `botkit eval` tries)."""
        clone = copy.copy(self)
        clone.prompt = prompt
        clone._robots = {robot: copy.copy(part) for robot, part in self._robots.items()}
        for part in clone._robots.values():
            part.prompt = None
        return clone

    @property
    def tools(self) -> list[Tool]:
        """The tools registered on this bot (not on its robots' parts)."""
        return list(self._tools.values())

    @property
    def robots(self) -> list[str]:
        """Robots with their own part of this bot."""
        return list(self._robots)

    def for_robot(self, robot: str) -> Bot:
        return self._robots.get(robot, self)

    def _parts(self, robot: str) -> list[Bot]:
        """What answers as `robot`, in the order it is tried: the robot's own part, then this bot."""
        part = self._robots.get(robot)
        return [part, self] if part is not None else [self]

    def prompt_for(self, robot: str) -> str | None:
        return next((part.prompt for part in self._parts(robot) if part.prompt is not None), None)

    def tools_for(self, robot: str) -> list[Tool]:
        tools = {name: tool for part in reversed(self._parts(robot)) for name, tool in part._tools.items()}
        return list(tools.values())

    def commands_for(self, robot: str) -> dict[str, Command]:
        return {
            name: command for part in reversed(self._parts(robot)) for name, command in part._commands.items()
        }

    async def run(self, ctx: Context, default: Handler) -> None:
        """Answer `ctx`: middleware, then a command, the handlers, or `default`."""
        parts = self._parts(ctx.robot)
        routes = [route for part in parts for route in part._routes]

        async def dispatch() -> None:
            command = self._command_in(ctx)
            if command is not None:
                await command.handler(ctx)
                return
            for route in routes:
                if route.matches(ctx):
                    await route.handler(ctx)
                    if ctx.answered:
                        return
            await default(ctx)

        chain: Next = dispatch
        # This bot's middleware outermost, then the robot's part's.
        for middleware in reversed(
            [middleware for part in reversed(parts) for middleware in part._middleware]
        ):
            chain = _wrap(middleware, ctx, chain)
        await chain()

    def _command_in(self, ctx: Context) -> Command | None:
        match = re.match(r"(/[\w-]+)(?:\s+|$)", ctx.text)
        if match is None:
            return None
        command = self.commands_for(ctx.robot).get(match.group(1).lower())
        if command is not None:
            ctx.args = ctx.text[match.end() :].strip()
        return command


def _wrap(middleware: Middleware, ctx: Context, call_next: Next) -> Next:
    async def step() -> None:
        await middleware(ctx, call_next)

    return step


def _summary(function: Callable[..., object]) -> str:
    return (function.__doc__ or "").strip().split("\n")[0]


async def _reset(ctx: Context) -> None:
    """Forget this conversation."""
    await ctx.memory.clear()
    await ctx.reply(RESET_REPLY)


async def _help(ctx: Context) -> None:
    """List the commands."""
    commands = ctx.bot.commands_for(ctx.robot).values()
    lines = [f"{command.name} - {command.help}" if command.help else command.name for command in commands]
    await ctx.reply("Commands:\n" + "\n".join(sorted(lines)))


def check_bot(bot: Bot, settings: Settings, provider: Provider) -> None:
    """Say at start what the bot asks for and the service cannot give: tools a provider cannot
    call (the model then answers without them), robots that are not in `BOTKIT_ROBOTS`."""
    robots = [settings.robots[0] if settings.robots else "", *bot.robots]
    if any(bot.tools_for(robot) for robot in robots) and not calls_tools(provider):
        log.warning(
            "the bot has tools, but %s cannot call tools: it answers without them; use an "
            "OpenAI-compatible model or MiniMax (BOTKIT_LLM=openai|minimax)",
            provider.name,
        )
    for robot in bot.robots:
        if robot not in settings.robots:
            log.warning("the bot has a part for %s, which is not in BOTKIT_ROBOTS: it never answers", robot)


def load_bot(spec: str) -> Bot:
    """The `Bot` named by an import string, `module:attribute` (like uvicorn's), found from the
    current directory first, so `botkit serve mybot:bot` runs the `mybot.py` beside you."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"give the bot as module:attribute, e.g. mybot:bot, not {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ConfigError(f"no module {module_name!r} (looked in {os.getcwd()} and sys.path)") from None
        raise
    bot = getattr(module, attribute, None)
    if not isinstance(bot, Bot):
        found = "nothing" if bot is None else f"a {type(bot).__name__}"
        raise ConfigError(f"{spec}: expected a botkit.Bot, found {found}")
    return bot
