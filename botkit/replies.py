"""Make model output safe to send: strip control characters, split under the Chat body limit."""

from __future__ import annotations

import re
import unicodedata

MAX_PART_BYTES = 11 * 1024
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
    """Split into parts of at most `max_bytes` UTF-8 bytes, preferring sentence then word boundaries."""
    if _size(text) <= max_bytes:
        return [text] if text else []
    parts: list[str] = []
    current, current_size = "", 0
    for piece in _pieces(text, max_bytes):
        piece_size = _size(piece)
        if current and current_size + piece_size > max_bytes:
            parts.append(current.strip())
            current, current_size = "", 0
        current += piece
        current_size += piece_size
    if current.strip():
        parts.append(current.strip())
    return parts


def _pieces(text: str, max_bytes: int) -> list[str]:
    """Sentences, each broken further (at spaces, else anywhere) when it alone is over the limit."""
    pieces: list[str] = []
    for sentence in _sentences(text):
        if _size(sentence) <= max_bytes:
            pieces.append(sentence)
            continue
        for word in re.findall(r"\S+\s*", sentence):
            pieces.extend(_hard_cut(word, max_bytes) if _size(word) > max_bytes else [word])
    return pieces


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
