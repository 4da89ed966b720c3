"""Conversation memory: keys, mention stripping, the history budget and the prompt order."""

from __future__ import annotations

import json

import pytest

from botkit.callbacks import C2CMessage, GroupMessage, parse_callback
from botkit.conversation import Memory, conversation_key, within_budget
from botkit.elements import strip_mentions
from botkit.llm.base import ChatMessage, Role
from botkit.store import InMemoryStore
from botkit.store.base import Turn
from tests.support import c2c_body, group_body


def _c2c(sender: str = "u1", robot: str = "@RBT#001") -> C2CMessage:
    message = parse_callback("Bot.OnC2CMessage", c2c_body(sender=sender, robot=robot))
    assert isinstance(message, C2CMessage)
    return message


def _group(group: str = "@TGS#2ABCDEFGH", sender: str = "u1") -> GroupMessage:
    message = parse_callback("Bot.OnGroupMessage", group_body(group=group, sender=sender))
    assert isinstance(message, GroupMessage)
    return message


@pytest.mark.parametrize(
    ("message", "robot", "key"),
    [
        (_c2c("alice"), "@RBT#001", "c2c:@RBT#001:alice"),
        (_c2c("bob"), "@RBT#001", "c2c:@RBT#001:bob"),
        (_c2c("alice", robot="@RBT#002"), "@RBT#002", "c2c:@RBT#002:alice"),
        (_group("@TGS#2ABCDEFGH"), "@RBT#001", "group:@TGS#2ABCDEFGH:@RBT#001"),
        (_group("@TGS#2ABCDEFGH"), "@RBT#002", "group:@TGS#2ABCDEFGH:@RBT#002"),
        (_group("team-room"), "@RBT#001", "group:team-room:@RBT#001"),
    ],
)
def test_conversation_key(message: C2CMessage | GroupMessage, robot: str, key: str) -> None:
    assert conversation_key(message, robot) == key


def test_group_key_is_shared_by_all_senders() -> None:
    assert conversation_key(_group(sender="alice"), "@RBT#001") == conversation_key(
        _group(sender="bob"), "@RBT#001"
    )


def test_c2c_and_group_keys_never_collide() -> None:
    c2c = json.loads(c2c_body(sender="@TGS#2ABCDEFGH"))
    message = C2CMessage.model_validate(c2c)

    assert conversation_key(message, "@RBT#001") != conversation_key(_group("@TGS#2ABCDEFGH"), "@RBT#001")


@pytest.mark.parametrize(
    ("text", "robots", "expected"),
    [
        ("@@RBT#001 hi", ["@RBT#001"], "hi"),
        ("@@RBT#001   spaced out  ", ["@RBT#001"], "spaced out"),
        ("@@RBT#001\nnew line", ["@RBT#001"], "new line"),
        ("no mention at all", ["@RBT#001"], "no mention at all"),
        ("@@RBT#001 @@RBT#002 compare", ["@RBT#001", "@RBT#002"], "compare"),
        ("@@RBT#002 @@RBT#001 compare", ["@RBT#001", "@RBT#002"], "compare"),
        ("ask @@RBT#001 about it", ["@RBT#001"], "ask about it"),
        ("@@RBT#1 @@RBT#10 hi", ["@RBT#1", "@RBT#10"], "hi"),
        ("@@RBT#10 hi", ["@RBT#1", "@RBT#10"], "hi"),
        ("@@RBT#10 hi", ["@RBT#10", "@RBT#1"], "hi"),
        ("@@RBT#001 hi", [], "@@RBT#001 hi"),
        ("@@RBT#001", ["@RBT#001"], ""),
        ("@alice hi", ["@RBT#001"], "@alice hi"),
        ("@@RBT#a.b hi", ["@RBT#a.b"], "hi"),
        ("@@RBT#aXb hi", ["@RBT#a.b"], "@@RBT#aXb hi"),
        ("@@RBT#001 你好", ["@RBT#001"], "你好"),
    ],
)
def test_strip_mentions(text: str, robots: list[str], expected: str) -> None:
    assert strip_mentions(text, robots) == expected


def test_strip_mentions_takes_any_iterable() -> None:
    assert strip_mentions("@@RBT#001 hi", iter(["@RBT#001"])) == "hi"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@@RBT#10 hi", "@@RBT#10 hi"),
        ("@@RBT#1 @@RBT#10 compare", "@@RBT#10 compare"),
    ],
)
def test_strip_mentions_leaves_longer_robot_ids_alone(text: str, expected: str) -> None:
    assert strip_mentions(text, ["@RBT#1"]) == expected


def _turns(*contents: str) -> list[Turn]:
    roles: tuple[Role, Role] = ("user", "assistant")
    return [Turn(roles[i % 2], content) for i, content in enumerate(contents)]


@pytest.mark.parametrize(
    ("contents", "max_chars", "kept"),
    [
        ((), 100, ()),
        (("aaaa", "bbbb", "cccc"), 100, ("aaaa", "bbbb", "cccc")),
        (("aaaa", "bbbb", "cccc"), 12, ("aaaa", "bbbb", "cccc")),
        (("aaaa", "bbbb", "cccc"), 11, ("bbbb", "cccc")),
        (("aaaa", "bbbb", "cccc"), 8, ("bbbb", "cccc")),
        (("aaaa", "bbbb", "cccc"), 4, ("cccc",)),
        (("aaaa", "bbbb", "cccc"), 3, ()),
        (("aaaa", "bbbb", "cccc"), 0, ()),
        (("a", "long" * 10, "c"), 5, ("c",)),
        (("", "", "x"), 1, ("", "", "x")),
    ],
)
def test_within_budget_keeps_most_recent_that_fit(
    contents: tuple[str, ...], max_chars: int, kept: tuple[str, ...]
) -> None:
    turns = _turns(*contents)

    result = within_budget(turns, max_chars)

    assert [turn.content for turn in result] == list(kept)
    assert result == turns[len(turns) - len(kept) :]


async def _memory_with(
    contents: tuple[str, ...], *, max_turns: int, max_chars: int, key: str = "c2c:@RBT#001:u1"
) -> Memory:
    store = InMemoryStore()
    await store.append_turns(key, _turns(*contents))
    return Memory(store, max_turns=max_turns, max_chars=max_chars)


async def test_prompt_is_system_then_history_oldest_first_then_user() -> None:
    memory = await _memory_with(("q1", "a1", "q2", "a2"), max_turns=10, max_chars=1000)

    prompt = await memory.prompt("c2c:@RBT#001:u1", "Be kind.", "q3")

    assert prompt == [
        ChatMessage("system", "Be kind."),
        ChatMessage("user", "q1"),
        ChatMessage("assistant", "a1"),
        ChatMessage("user", "q2"),
        ChatMessage("assistant", "a2"),
        ChatMessage("user", "q3"),
    ]


async def test_prompt_for_new_conversation_has_no_history() -> None:
    memory = await _memory_with(("q1", "a1"), max_turns=10, max_chars=1000)

    prompt = await memory.prompt("c2c:@RBT#001:someone-else", "Be kind.", "hello")

    assert prompt == [ChatMessage("system", "Be kind."), ChatMessage("user", "hello")]


@pytest.mark.parametrize(
    ("max_turns", "history"),
    [
        (0, []),
        (1, ["a2"]),
        (2, ["q2", "a2"]),
        (3, ["a1", "q2", "a2"]),
        (4, ["q1", "a1", "q2", "a2"]),
        (50, ["q1", "a1", "q2", "a2"]),
    ],
)
async def test_prompt_keeps_at_most_max_turns(max_turns: int, history: list[str]) -> None:
    memory = await _memory_with(("q1", "a1", "q2", "a2"), max_turns=max_turns, max_chars=1000)

    prompt = await memory.prompt("c2c:@RBT#001:u1", "sys", "now")

    assert [message.content for message in prompt[1:-1]] == history


@pytest.mark.parametrize(
    ("max_chars", "user_text", "history"),
    [
        (1000, "now", ["q1__", "a1__", "q2__", "a2__"]),
        (16 + 3, "now", ["q1__", "a1__", "q2__", "a2__"]),
        (15 + 3, "now", ["a1__", "q2__", "a2__"]),
        (8 + 3, "now", ["q2__", "a2__"]),
        (8, "now", ["a2__"]),
        (3, "now", []),
        (0, "now", []),
        (8, "a much longer question than the budget", []),
    ],
)
async def test_prompt_history_fits_char_budget_with_user_text(
    max_chars: int, user_text: str, history: list[str]
) -> None:
    memory = await _memory_with(("q1__", "a1__", "q2__", "a2__"), max_turns=10, max_chars=max_chars)

    prompt = await memory.prompt("c2c:@RBT#001:u1", "sys", user_text)

    assert [message.content for message in prompt[1:-1]] == history
    assert prompt[0] == ChatMessage("system", "sys")
    assert prompt[-1] == ChatMessage("user", user_text)


async def test_remember_appends_question_and_answer() -> None:
    store = InMemoryStore()
    memory = Memory(store, max_turns=10, max_chars=1000)

    await memory.remember("group:g:@RBT#001", "what?", "this.")
    await memory.remember("group:g:@RBT#001", "and?", "that.")

    assert await store.load_turns("group:g:@RBT#001", 10) == [
        Turn("user", "what?"),
        Turn("assistant", "this."),
        Turn("user", "and?"),
        Turn("assistant", "that."),
    ]
    assert await store.load_turns("group:other:@RBT#001", 10) == []


async def test_remembered_turns_feed_the_next_prompt() -> None:
    memory = Memory(InMemoryStore(), max_turns=10, max_chars=1000)

    await memory.remember("k", "first question", "first answer")
    prompt = await memory.prompt("k", "sys", "second question")

    assert prompt == [
        ChatMessage("system", "sys"),
        ChatMessage("user", "first question"),
        ChatMessage("assistant", "first answer"),
        ChatMessage("user", "second question"),
    ]
