"""Conversation memory: which conversation a message belongs to, and the prompt built from it."""

from __future__ import annotations

from collections.abc import Sequence

from botkit.callbacks import C2CMessage, GroupMessage
from botkit.llm.base import ChatMessage
from botkit.store.base import Store, Turn


def conversation_key(message: C2CMessage | GroupMessage, robot: str) -> str:
    """One memory per user and robot one-to-one, and one per group and robot."""
    if isinstance(message, GroupMessage):
        return f"group:{message.group_id}:{robot}"
    return f"c2c:{robot}:{message.from_account}"


def within_budget(turns: Sequence[Turn], max_chars: int) -> list[Turn]:
    """The most recent turns whose text fits in `max_chars`, oldest first."""
    kept: list[Turn] = []
    used = 0
    for turn in reversed(turns):
        used += len(turn.content)
        if used > max_chars:
            break
        kept.append(turn)
    return kept[::-1]


class Memory:
    """Loads and saves the turns of conversations in a Store, within a turn count and character budget."""

    def __init__(self, store: Store, *, max_turns: int, max_chars: int) -> None:
        self._store = store
        self._max_turns = max_turns
        self._max_chars = max_chars

    async def prompt(
        self, key: str, system_prompt: str, user_text: str, images: tuple[str, ...] = ()
    ) -> list[ChatMessage]:
        """System prompt, the remembered turns that fit, then the new user message (with its images)."""
        turns = await self._store.load_turns(key, self._max_turns)
        budget = max(self._max_chars - len(user_text), 0)
        history = [ChatMessage(turn.role, turn.content) for turn in within_budget(turns, budget)]
        return [ChatMessage("system", system_prompt), *history, ChatMessage("user", user_text, images)]

    async def remember(self, key: str, user_text: str, answer: str) -> None:
        await self._store.append_turns(key, [Turn("user", user_text), Turn("assistant", answer)])

    async def turns(self, key: str, limit: int) -> list[Turn]:
        """A conversation's last `limit` turns, oldest first."""
        return await self._store.load_turns(key, limit)

    async def forget(self, key: str) -> None:
        """Forget a conversation's turns (the `/reset` command)."""
        await self._store.clear_turns(key)
