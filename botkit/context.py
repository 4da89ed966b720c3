"""`Context`: one message as a bot's handlers see it, and what they can do with it.

Who sent it and where, its text and elements, the conversation's memory, `reply()` and
`ask_model()`. Replies are collected, not sent at once: the engine journals them when the
handlers are done and sends each exactly once, so a crash never repeats or loses one.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from botkit.callbacks import C2CMessage, GroupMessage, is_robot
from botkit.conversation import Memory
from botkit.elements import Element, MsgBody, image_urls, text_body
from botkit.restapi import ChatClient
from botkit.restmodels import GroupHistoryMessage
from botkit.store.base import Turn

if TYPE_CHECKING:
    from botkit.bot import Bot
    from botkit.responder import Answer

E = TypeVar("E", bound=Element)


@dataclass(frozen=True)
class Quote:
    """The message a user quoted when replying (TUIKit's `CloudCustomData.messageReply`)."""

    sender: str
    abstract: str
    message_id: str = ""

    @classmethod
    def from_custom_data(cls, custom_data: str) -> Quote | None:
        try:
            reply = json.loads(custom_data).get("messageReply") if custom_data else None
        except (ValueError, AttributeError):
            return None
        if not isinstance(reply, dict):
            return None
        return cls(
            str(reply.get("messageSender", "")),
            str(reply.get("messageAbstract", "")),
            str(reply.get("messageID", "")),
        )


class ConversationMemory:
    """The remembered turns of one message's conversation."""

    def __init__(self, memory: Memory, conversation: str) -> None:
        self._memory = memory
        self.conversation = conversation

    async def turns(self, limit: int = 50) -> list[Turn]:
        """The last `limit` remembered turns, oldest first."""
        return await self._memory.turns(self.conversation, limit)

    async def clear(self) -> None:
        """Forget the conversation (what `/reset` does)."""
        await self._memory.forget(self.conversation)


@dataclass
class Context:
    """One message addressed to `robot`, while the bot's handlers answer it."""

    message: C2CMessage | GroupMessage
    robot: str
    text: str
    """The message's text with the robots' @-mentions removed."""
    bot: Bot
    memory: ConversationMemory
    ask: Callable[..., Awaitable[str]]
    chat: ChatClient | None
    """The Chat REST client, for what `reply` does not cover; what it sends is not journalled."""
    args: str = ""
    """For a command, what follows its name."""
    replies: list[MsgBody] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    """The model's answers so far, remembered once the replies are journalled."""
    state: dict[str, Any] = field(default_factory=dict)
    """Free for middleware and handlers to pass things along."""

    @property
    def user(self) -> str:
        return self.message.from_account

    @property
    def group_id(self) -> str | None:
        return self.message.group_id if isinstance(self.message, GroupMessage) else None

    @property
    def topic_id(self) -> str | None:
        return self.message.topic_id if isinstance(self.message, GroupMessage) else None

    @property
    def is_group(self) -> bool:
        return isinstance(self.message, GroupMessage)

    @property
    def elements(self) -> MsgBody:
        return self.message.msg_body

    def elements_of(self, kind: type[E]) -> list[E]:
        """The message's elements of one type, e.g. `ctx.elements_of(ImageElem)`."""
        return [element for element in self.message.msg_body if isinstance(element, kind)]

    @property
    def image_urls(self) -> list[str]:
        """The largest version of each image in the message."""
        return image_urls(self.message.msg_body)

    @property
    def mentions(self) -> list[str]:
        """Users (not robots) @-mentioned in a group message."""
        if not isinstance(self.message, GroupMessage):
            return []
        words = self.message.text.split()
        return [word[1:] for word in words if word.startswith("@") and not is_robot(word[1:])]

    @property
    def quote(self) -> Quote | None:
        return Quote.from_custom_data(self.message.cloud_custom_data)

    @property
    def answered(self) -> bool:
        return bool(self.replies)

    async def reply(self, content: str | MsgBody | Element) -> None:
        """Queue a reply: text (split at Tencent's limit when sent), or Tencent elements."""
        if isinstance(content, str):
            self.replies.append(text_body(content))
        elif isinstance(content, list):
            self.replies.append(content)
        else:
            self.replies.append([content])

    async def group_history(self, count: int = 20) -> list[GroupHistoryMessage]:
        """The group's last `count` messages (deleted ones left out), oldest first; [] in C2C."""
        if not isinstance(self.message, GroupMessage) or self.chat is None:
            return []
        messages: list[GroupHistoryMessage] = []
        seq: int | None = None
        while len(messages) < count:
            page = await self.chat.group_msg_get_simple(
                self.message.group_id, req_msg_seq=seq, req_msg_number=min(20, count - len(messages))
            )
            messages.extend(m for m in page.rsp_msg_list if not m.is_place_msg)
            if not page.rsp_msg_list or page.is_finished:
                break
            seq = min(m.msg_seq for m in page.rsp_msg_list) - 1
        return sorted(messages, key=lambda m: m.msg_seq)[-count:]

    async def ask_model(self, question: str | None = None, *, remember: bool = True) -> str:
        """The model's answer to `question` (default: this message), with the conversation's
        memory, the robot's prompt and the bot's tools. The exchange is remembered once sent."""
        return await self.ask(self, question, remember=remember)
