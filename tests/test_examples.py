"""Each example bot under `examples/`, run through the in-process sandbox as a user would chat."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from examples import echo, group_assistant, support
from sandbox.chat import trial_settings, try_bot
from tests.chatmodel import FakeChatModel, call_tool, last, say


async def test_the_echo_bot_repeats_and_pongs() -> None:
    chat = await try_bot(echo.bot, trial_settings(llm="echo"))
    try:
        assert (await chat.send("hello there")).text == "hello there"
        assert (await chat.send("/ping")).text == "pong"
    finally:
        await chat.close()


@pytest.fixture
def orders_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The support bot's order table in a temporary folder (the example keeps it beside itself)."""
    path = tmp_path / "orders.sqlite3"
    monkeypatch.setenv("SUPPORT_ORDERS_DB", str(path))
    return path


async def test_the_support_bot_looks_up_an_order_with_its_tool(orders_file: Path) -> None:
    def script(body: dict[str, Any]) -> dict[str, Any]:
        if last(body)["role"] == "tool":
            status = json.loads(last(body)["content"])
            return say(f"Order {status['order_id']} is {status['status']}, arriving {status['eta']}.")
        return call_tool("order_status", order_id="1001")

    model = FakeChatModel(script)
    chat = await try_bot(support.bot, trial_settings(), provider=model.provider())
    try:
        assert (await chat.send("Where is order 1001?")).text == "Order 1001 is shipped, arriving tomorrow."
        assert (await chat.send("/human")).text.startswith("I have asked a colleague")
        assert (await chat.send("you idiot")).text.startswith("Let's keep it friendly")
    finally:
        await chat.close()
    assert len(model.requests) == 2, "the middleware stopped the rude message before the model"
    assert orders_file.exists()


async def test_the_support_bot_tells_the_model_of_a_missing_order(orders_file: Path) -> None:
    def script(body: dict[str, Any]) -> dict[str, Any]:
        if last(body)["role"] == "tool":
            return say("I could not find that order: " + json.loads(last(body)["content"])["error"])
        return call_tool("order_status", order_id="4242")

    chat = await try_bot(support.bot, trial_settings(), provider=FakeChatModel(script).provider())
    try:
        reply = await chat.send("Where is order 4242?")
    finally:
        await chat.close()
    assert reply.text == "I could not find that order: LookupError: no order 4242"


async def test_the_group_assistant_sums_up_the_group_on_request() -> None:
    model = FakeChatModel(lambda body: say("- " + last(body)["content"].splitlines()[-1]))
    chat = await try_bot(group_assistant.bot, trial_settings(), provider=model.provider())
    try:
        await chat.send_group("we ship on Friday")
        reply = await chat.send_group("/summary")
        one_to_one = await chat.send("/summary")
    finally:
        await chat.close()
    assert "/summary" in reply.text and reply.text.startswith(f"@{chat.user}")
    assert "we ship on Friday" in model.requests[-1]["messages"][-1]["content"]
    assert one_to_one.text == "/summary works in a group."
