"""The text a streamed reply shows while the model is still writing, and where a long one is cut.

`LiveText` gathers a provider's raw chunks. Its `shown()` text is what the finished answer will start
with: thinking blocks are left out (an unclosed one, or the start of a `<think>` tag, is held back
until it closes) and the text goes through `replies.clean`, so the final answer, cleaned the same
way, only ever adds to what was shown. That matters where a stream can only append.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Sequence

from botkit.llm.base import ChatMessage, Provider, strip_thinking
from botkit.replies import clean

_THINK_TAG = "<think>"
_SENTENCE_END = re.compile(r"[.!?;\u3002\uff01\uff1f\uff1b\n](\s|$)")


class LiveText:
    """A model's answer as it arrives: raw chunks in, the text to show out, and whether it ended.

    `changed` is set on every chunk and at the end; whoever reads clears it first.
    """

    def __init__(self) -> None:
        self._raw: list[str] = []
        self.done = False
        self.failed: BaseException | None = None
        self.changed = asyncio.Event()

    def tap(self, provider: Provider) -> Provider:
        """`provider` with every chunk it yields (and how it ended) copied here."""
        return _Tapped(provider, self)

    def add(self, chunk: str) -> None:
        self._raw.append(chunk)
        self.changed.set()

    def end(self, failure: BaseException | None = None) -> None:
        if not self.done:
            self.done, self.failed = True, failure
            self.changed.set()

    def shown(self) -> str:
        """The text so far as it may be shown: a prefix of the final cleaned answer."""
        raw = "".join(self._raw)
        if not self.done:
            raw = _hold_back_tag(raw)
        return clean(strip_thinking(raw))


class _Tapped:
    def __init__(self, provider: Provider, live: LiveText) -> None:
        self.name = provider.name
        self._provider = provider
        self._live = live

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        try:
            async for chunk in self._provider.stream(messages):
                self._live.add(chunk)
                yield chunk
        except BaseException as exc:  # a failure, a loop, or the responder's timeout cancelling it
            self._live.end(exc)
            raise
        self._live.end()


Tap = Callable[[Provider], Provider]


def _hold_back_tag(raw: str) -> str:
    """`raw` without a trailing partial `<think>` tag, which would vanish once the tag is complete."""
    for length in range(min(len(_THINK_TAG) - 1, len(raw)), 0, -1):
        if _THINK_TAG.startswith(raw[-length:]):
            return raw[:-length]
    return raw


def has_sentence(text: str) -> bool:
    """Whether `text` holds at least one finished sentence (or line)."""
    return _SENTENCE_END.search(text) is not None


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def fit(text: str, max_bytes: int) -> int:
    """How many characters of `text` fit in `max_bytes` UTF-8 bytes, cut before a space if one is
    near (the next message starts after it). Returns `len(text)` when all of it fits."""
    if utf8_size(text) <= max_bytes:
        return len(text)
    used, end = 0, 0
    for end, char in enumerate(text):  # noqa: B007 - `end` is the first character that does not fit
        used += utf8_size(char)
        if used > max_bytes:
            break
    space = text.rfind(" ", 0, end)
    newline = text.rfind("\n", 0, end)
    boundary = max(space, newline)
    # A cut at a space in the last fifth keeps words whole; further back it would waste the message.
    return boundary if boundary >= end * 4 // 5 else end
