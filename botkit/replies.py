"""Make replies safe to send: strip control characters, split text under the Chat body limit, and
the form the journal keeps each part in."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence

from botkit.elements import MsgBody, TextElem, body_text, dump_body, msg_body_adapter, text_body
from botkit.restmodels import MAX_BODY_BYTES

MAX_PART_BYTES = MAX_BODY_BYTES - 1024
"""Tencent caps a whole message body at 12 KB (protocol.md §7); 11 KB of text leaves room for the rest."""

# Latin sentence ends need a following space (so "example.com" and "3.14" stay whole);
# CJK full-width ends and newlines do not.
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|(?<=[\n\u3002\uff01\uff1f\uff1b])\s*")
# Newline, tab and the zero-width joiner that holds emoji sequences such as 👩‍💻 together.
_KEEP = "\n\t\u200d"


def clean(text: str) -> str:
    """Drop control and format characters except newline and tab; normalise line endings."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        char
        for char in text
        if char in _KEEP or _is_emoji_tag(char) or unicodedata.category(char) not in ("Cc", "Cf", "Cs")
    ).strip()


def split(text: str, max_bytes: int = MAX_PART_BYTES) -> list[str]:
    """Split into parts of at most `max_bytes` UTF-8 bytes, preferring sentence then word boundaries.

    A word over the limit is cut anywhere, starting in the part that holds the words before it in
    its sentence, so "echo: <100 KB>" does not send a part of just "echo:".
    """
    if _size(text) <= max_bytes:
        return [text] if text else []
    parts = _Parts(max_bytes)
    for sentence in _sentences(text):
        if _size(sentence) <= max_bytes:
            parts.add(sentence)
            parts.end_sentence()
            continue
        for word in re.findall(r"\S+\s*", sentence):
            if _size(word) <= max_bytes:
                parts.add(word)
            else:
                parts.add_cut(word)
        parts.end_sentence()
    return parts.done()


class _Parts:
    """Parts packed greedily; after `end_sentence`, an over-long word starts a part of its own."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.parts: list[str] = []
        self.current = ""
        self.sealed = False  # `current` ends with whole sentences an over-long word must not join

    def add(self, piece: str) -> None:
        if self.current and _size(self.current) + _size(piece) > self.max_bytes:
            self._flush()
        self.current += piece
        self.sealed = False

    def add_cut(self, word: str) -> None:
        if self.sealed:
            self._flush()
        head, rest = _cut(word, self.max_bytes - _size(self.current))
        self.current += head
        for chunk in _hard_cut(rest, self.max_bytes):
            self._flush()
            self.current = chunk

    def end_sentence(self) -> None:
        self.sealed = bool(self.current.strip())

    def done(self) -> list[str]:
        self._flush()
        return self.parts

    def _flush(self) -> None:
        if self.current.strip():
            self.parts.append(self.current.strip())
        self.current, self.sealed = "", False


def _cut(text: str, max_bytes: int) -> tuple[str, str]:
    """The longest start of `text` within `max_bytes`, and the rest."""
    used = 0
    for index, char in enumerate(text):
        used += _size(char)
        if used > max_bytes:
            return text[:index], text[index:]
    return text, ""


def _sentences(text: str) -> list[str]:
    starts = [0] + [match.end() for match in _SENTENCE_END.finditer(text) if 0 < match.end() < len(text)]
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True) if a < b]


def _hard_cut(text: str, max_bytes: int) -> list[str]:
    cuts: list[str] = []
    current, current_size = "", 0
    for char in text:
        char_size = _size(char)
        if current_size + char_size > max_bytes:
            cuts.append(current)
            current, current_size = "", 0
        current += char
        current_size += char_size
    return [*cuts, current] if current else cuts


def _is_emoji_tag(char: str) -> bool:
    """Tag characters that spell out subdivision flags such as 🏴󠁧󠁢󠁳󠁣󠁴󠁿."""
    return "\U000e0020" <= char <= "\U000e007f"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


ELEMENTS_MARK = "\x1e"
"""Starts a journalled part that is a JSON `MsgBody`: a control character, which `clean` removes
from every text part, so text and element parts can never be taken for each other."""


def journal_parts(bodies: Sequence[MsgBody]) -> list[str]:
    """Replies as the journal keeps them: text cleaned and split at the Chat limit, one part per
    message; a reply with other elements is one part, its `MsgBody` as JSON after `ELEMENTS_MARK`."""
    parts: list[str] = []
    for body in bodies:
        if all(isinstance(element, TextElem) for element in body):
            parts.extend(split(clean(body_text(body))))
        else:
            parts.append(ELEMENTS_MARK + json.dumps(dump_body(body), ensure_ascii=False))
    return parts


def part_body(part: str) -> MsgBody:
    """The message body a journalled part is sent as."""
    if part.startswith(ELEMENTS_MARK):
        return msg_body_adapter.validate_json(part[len(ELEMENTS_MARK) :])
    return text_body(part)
