"""The pytest plugin runs a `Bot` given by the `botkit_bot` fixture, as a bot author's tests do."""

from __future__ import annotations

import pytest

from examples import echo
from sandbox.chat import Chat
from sandbox.harness import InProcessSandbox
from tests.support import sent_texts


@pytest.fixture
def botkit_bot() -> object:
    return echo.bot


async def test_the_plugin_chats_with_the_bot_of_botkit_bot(chat: Chat, sandbox: InProcessSandbox) -> None:
    assert (await chat.send("/ping")).text == "pong"
    assert (await chat.send("hi")).text == "hi"
    assert sent_texts(sandbox) == ["pong", "hi"]
