"""Bots as code, through the in-process sandbox: handlers and filters, commands, middleware, tools
over an OpenAI-compatible server, non-text messages, per-robot prompts and element replies."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from botkit import Bot, Context, Next
from botkit.elements import FaceContent, FaceElem, ImageContent, ImageElem, ImageInfo, text_body
from botkit.errors import ConfigError
from botkit.llm.echo import EchoProvider
from sandbox.chat import Chat, Trial, trial_settings, try_bot
from tests.chatmodel import FakeChatModel, call_tool, last, say

IMAGE = ImageElem(
    msg_content=ImageContent(
        uuid="img-1",
        image_info_array=[
            ImageInfo(type=3, width=198, height=198, url="https://example.com/thumb.jpg"),
            ImageInfo(type=1, width=1024, height=768, url="https://example.com/large.jpg"),
        ],
    )
)


@pytest.fixture
async def echo_chat() -> AsyncIterator[Any]:
    chats: list[Trial] = []

    async def start(bot: Bot, **overrides: Any) -> Trial:
        chat = await try_bot(bot, trial_settings(llm="echo", **overrides))
        chats.append(chat)
        return chat

    yield start
    for chat in chats:
        await chat.close()


async def test_a_bot_with_nothing_registered_answers_as_configured(echo_chat: Any) -> None:
    chat = await echo_chat(Bot())
    assert (await chat.send("hello")).text == "echo: hello"


async def test_handlers_run_in_order_until_one_replies_and_filters_pick_them(echo_chat: Any) -> None:
    bot = Bot()
    seen: list[str] = []

    @bot.message(pattern=r"^order (\d+)")
    async def orders(ctx: Context) -> None:
        seen.append("orders")
        await ctx.reply(f"looking up {ctx.text.split()[1]}")

    @bot.message(chat="group")
    async def group_only(ctx: Context) -> None:
        seen.append("group")
        await ctx.reply("in the group")

    @bot.message
    async def quiet(ctx: Context) -> None:
        seen.append("quiet")  # replies nothing: the next handler (the default) answers

    chat = await echo_chat(bot)
    assert (await chat.send("order 42")).text == "looking up 42"
    assert (await chat.send("hi there")).text == "echo: hi there"
    assert (await chat.send_group("anything")).text.endswith("in the group")
    assert seen == ["orders", "quiet", "group"]


async def test_an_element_filter_and_an_element_reply(echo_chat: Any) -> None:
    bot = Bot()

    @bot.message(element=ImageElem)
    async def image(ctx: Context) -> None:
        await ctx.reply(f"nice picture: {ctx.image_urls[0]}")
        await ctx.reply(FaceElem(msg_content=FaceContent(index=1, data="like")))

    chat = await echo_chat(bot)
    sent = chat.local.send_c2c(chat.user, chat.robot, [IMAGE])
    await chat.local.settle()
    replies = chat.local.c2c_replies(sent)
    assert [reply.body[0].msg_type for reply in replies] == ["TIMTextElem", "TIMFaceElem"]
    assert replies[0].body == text_body("nice picture: https://example.com/large.jpg")


async def test_commands_help_reset_and_arguments(echo_chat: Any) -> None:
    bot = Bot()

    @bot.command("/weather", help="Tomorrow's weather")
    async def weather(ctx: Context) -> None:
        await ctx.reply(f"sunny in {ctx.args or 'Shenzhen'}")

    chat = await echo_chat(bot)
    assert (await chat.send("/weather Beijing")).text == "sunny in Beijing"
    assert (await chat.send("/WEATHER")).text == "sunny in Shenzhen"
    help_text = (await chat.send("/help")).text
    assert "/weather - Tomorrow's weather" in help_text and "/reset" in help_text
    assert (await chat.send("/weathering")).text == "echo: /weathering"  # not a command: the model answers


async def test_reset_forgets_the_conversation() -> None:
    model = FakeChatModel(lambda body: say(f"{len(body['messages'])} messages"))
    chat = await try_bot(Bot(), trial_settings(), provider=model.provider())
    try:
        assert (await chat.send("one")).text == "2 messages"
        assert (await chat.send("two")).text == "4 messages"
        assert (await chat.send("/reset")).text.startswith("Done")
        assert (await chat.send("three")).text == "2 messages"
    finally:
        await chat.close()


async def test_a_builtin_command_can_be_overridden(echo_chat: Any) -> None:
    bot = Bot()

    @bot.command("/help")
    async def my_help(ctx: Context) -> None:
        await ctx.reply("ask me about orders")

    chat = await echo_chat(bot)
    assert (await chat.send("/help")).text == "ask me about orders"


async def test_middleware_wraps_every_message_and_can_stop_one(echo_chat: Any) -> None:
    bot = Bot()
    order: list[str] = []

    @bot.middleware
    async def log_it(ctx: Context, call_next: Next) -> None:
        order.append(f"in:{ctx.text}")
        await call_next()
        order.append(f"out:{len(ctx.replies)}")

    @bot.middleware
    async def moderate(ctx: Context, call_next: Next) -> None:
        if "spam" in ctx.text:
            await ctx.reply("no spam, please")
            return
        await call_next()

    chat = await echo_chat(bot)
    assert (await chat.send("buy spam")).text == "no spam, please"
    assert (await chat.send("hello")).text == "echo: hello"
    assert order == ["in:buy spam", "out:1", "in:hello", "out:1"]


ORDERS = {"1001": "shipped", "1002": "packing"}


def support_bot() -> Bot:
    bot = Bot(prompt="You are Acme's support desk.")

    @bot.tool
    async def order_status(order_id: str) -> dict[str, str]:
        """The status of an order.

        Args:
            order_id: the order number
        """
        return {"order_id": order_id, "status": ORDERS[order_id]}

    @bot.tool
    async def customer(ctx: Context) -> str:
        """Who is asking."""
        return ctx.user

    return bot


async def test_a_tool_loop_of_several_rounds() -> None:
    def script(body: dict[str, Any]) -> dict[str, Any]:
        rounds = sum(m["role"] == "tool" for m in body["messages"])
        if rounds == 0:
            return call_tool("customer")
        if rounds == 1:
            return call_tool("order_status", order_id="1001")
        return say(f"{body['messages'][-3]['content']}: {json.loads(last(body)['content'])['status']}")

    model = FakeChatModel(script)
    chat = await try_bot(support_bot(), trial_settings(), provider=model.provider())
    try:
        assert (await chat.send("where is my order 1001?")).text == f"{chat.user}: shipped"
    finally:
        await chat.close()
    assert model.tool_rounds == [["order_status", "customer"]] * 3
    assert model.requests[0]["messages"][0] == {"role": "system", "content": "You are Acme's support desk."}
    assert model.requests[0]["tools"][0]["function"]["parameters"]["required"] == ["order_id"]
    assert [m["role"] for m in model.requests[2]["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
    ]


async def test_a_failing_tool_gives_the_model_the_error() -> None:
    def script(body: dict[str, Any]) -> dict[str, Any]:
        if last(body)["role"] == "tool":
            return say("sorry: " + json.loads(last(body)["content"])["error"])
        return call_tool("order_status", order_id="9999")

    model = FakeChatModel(script)
    chat = await try_bot(support_bot(), trial_settings(), provider=model.provider())
    try:
        assert (await chat.send("order 9999?")).text == "sorry: KeyError: '9999'"
    finally:
        await chat.close()


async def test_a_tool_loop_stops_at_the_round_limit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "botkit.tools")
    model = FakeChatModel(
        lambda body: call_tool("order_status", order_id="1001") if body.get("tools") else say("giving up")
    )
    bot = support_bot()
    bot.max_tool_rounds = 3
    chat = await try_bot(bot, trial_settings(), provider=model.provider())
    try:
        assert (await chat.send("loop forever")).text == "giving up"
    finally:
        await chat.close()
    assert [bool(tools) for tools in model.tool_rounds] == [True, True, True, False]
    assert "tool round limit (3) reached" in caplog.text
    assert "tool call (round 1): order_status" in caplog.text


async def test_an_image_is_answered_politely_by_a_text_only_model(echo_chat: Any) -> None:
    chat = await echo_chat(Bot())
    reply = await chat.send([IMAGE])
    assert reply.text == trial_settings().non_text_reply


async def test_a_model_that_reads_images_is_shown_them() -> None:
    model = FakeChatModel(lambda body: say(f"I see {len(last(body)['content']) - 1} image(s)"))
    chat = await try_bot(Bot(), trial_settings(llm_images=True), provider=model.provider())
    try:
        reply = await chat.send([*text_body("what is this?"), IMAGE])
    finally:
        await chat.close()
    assert reply.text == "I see 1 image(s)"
    assert last(model.requests[0])["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/large.jpg"},
    }


async def test_each_robot_has_its_own_prompt_and_handlers() -> None:
    model = FakeChatModel(lambda body: say(body["messages"][0]["content"]))
    bot = Bot(prompt="default prompt")
    sales = bot.robot("@RBT#002", prompt="sales prompt")

    @sales.command("/price")
    async def price(ctx: Context) -> None:
        await ctx.reply("9.99")

    settings = trial_settings(robots=["@RBT#001", "@RBT#002"])
    chat = await try_bot(bot, settings, provider=model.provider())
    try:
        sales_chat = Chat(chat.local, chat.user, robot="@RBT#002")
        assert (await chat.send("hi")).text == "default prompt"
        assert (await sales_chat.send("hi")).text == "sales prompt"
        assert (await sales_chat.send("/price")).text == "9.99"
        assert (await chat.send("/price")).text == "default prompt"
    finally:
        await chat.close()


async def test_a_quote_and_mentions_are_on_the_context(echo_chat: Any) -> None:
    bot = Bot()
    seen: dict[str, Any] = {}

    @bot.message
    async def look(ctx: Context) -> None:
        seen.update(quote=ctx.quote, mentions=ctx.mentions, group=ctx.group_id)
        await ctx.reply("ok")

    chat = await echo_chat(bot)
    await chat.send_group("@alice what do you think?")
    assert seen == {"quote": None, "mentions": ["alice"], "group": chat.local.group}


def test_a_command_name_is_checked() -> None:
    with pytest.raises(ConfigError, match="a slash and a word"):
        Bot().command("reset")


async def test_a_provider_without_tools_says_so_at_start(caplog: pytest.LogCaptureFixture) -> None:
    chat = await try_bot(support_bot(), trial_settings(), provider=EchoProvider())
    try:
        assert (await chat.send("hi")).text == "echo: hi"
    finally:
        await chat.close()
    assert "the bot has tools, but echo cannot call tools" in caplog.text
