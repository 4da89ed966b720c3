"""Spotting an answer that loops: small models repeat a line or a phrase until they run out of tokens.

`loop_start` finds where the repetition begins, so the answer can be cut just before it, keeping the
first occurrence; `repeats_earlier` spots an answer copied from the conversation's earlier ones.
Short pieces (a list of "Yes." lines, "ha ha ha") do not count. It is linear in the length of the
answer, except the phrase check, which only reads the last `TAIL_CHARS`: a loop that ran until the
token limit always reaches the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MIN_PIECE_CHARS = 8
"""Lines and sentences shorter than this may repeat freely."""

PIECE_REPEATS = 3
"""A line or sentence said this many times (anywhere) is a loop; twice in a row is one already."""

TAIL_CHARS = 600

_ENDS = ".!?\u3002\uff01\uff1f"  # and the Chinese full stop, exclamation and question marks
_PIECE = re.compile(rf"[^\n{_ENDS}]*(?:[{_ENDS}]+|\n|$)")
_PHRASE = re.compile(r"(\S.{11,159}?)(?:\s*\1){2,}", re.DOTALL)
"""A phrase of 12 to 160 characters said three times running, with or without spaces between."""


def loop_start(text: str) -> int | None:
    """The index where `text` starts repeating itself, or None when it does not."""
    starts = [start for start in (_repeated_piece(text), _repeated_phrase(text)) if start is not None]
    return min(starts, default=None)


def repeats_earlier(answer: str, earlier: Iterable[str]) -> bool:
    """Whether `answer` is word for word one of the `earlier` answers: a small model copying its
    own history, which must not be remembered or it is copied again."""
    key = " ".join(answer.split()).casefold()
    return len(key) >= MIN_PIECE_CHARS and any(key == " ".join(e.split()).casefold() for e in earlier)


def cut_loop(text: str) -> tuple[str, bool]:
    """`text` cut before its repetition (trailing space removed), and whether it was cut."""
    start = loop_start(text)
    if start is None:
        return text, False
    return text[:start].rstrip(), True


def _repeated_piece(text: str) -> int | None:
    """The second occurrence of a line or sentence said twice in a row or three times in all."""
    seen: dict[str, list[int]] = {}
    previous: str | None = None
    for match in _PIECE.finditer(text):
        key = " ".join(match.group().split()).casefold()
        if len(key) < MIN_PIECE_CHARS:
            continue
        at = match.start() + len(match.group()) - len(match.group().lstrip())
        positions = seen.setdefault(key, [])
        positions.append(at)
        if key == previous or len(positions) >= PIECE_REPEATS:
            return positions[1]
        previous = key
    return None


def _repeated_phrase(text: str) -> int | None:
    offset = max(0, len(text) - TAIL_CHARS)
    match = _PHRASE.search(text, offset)
    return None if match is None else match.start() + len(match.group(1))
