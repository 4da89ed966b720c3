"""Reply text: control characters cleaned out, long text split under the Chat body limit."""

from __future__ import annotations

import itertools

import pytest

from botkit.elements import FaceContent, FaceElem, text_body
from botkit.replies import MAX_PART_BYTES, clean, journal_parts, part_body, split


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain text", "plain text"),
        ("line one\nline two", "line one\nline two"),
        ("col\tcol", "col\tcol"),
        ("windows\r\nline\r\nends", "windows\nline\nends"),
        ("old mac\rline", "old mac\nline"),
        ("bell\x07 null\x00 escape\x1b[31m", "bell null escape[31m"),
        ("del\x7f c1\x85\x9b", "del c1"),
        ("zero\u200bwidth\u200cnon\ufeffjoiner\u2060", "zerowidthnonjoiner"),
        ("bidi \u202eevil\u202c override", "bidi evil override"),
        ("soft\u00adhyphen", "softhyphen"),
        ("  padded  \n", "padded"),
        ("\x00\x01\u200b", ""),
        ("", ""),
        ("你好，世界。今天天气很好！", "你好，世界。今天天气很好！"),  # noqa: RUF001
        ("こんにちは 안녕하세요", "こんにちは 안녕하세요"),
        ("emoji 🎉👍🏽 and flag 🇨🇳", "emoji 🎉👍🏽 and flag 🇨🇳"),
        ("heart ❤️ with selector", "heart ❤️ with selector"),
        ("accents café naïve", "accents café naïve"),
        ("math ∑ x² ≤ ∞", "math ∑ x² ≤ ∞"),
    ],
)
def test_clean(raw: str, expected: str) -> None:
    assert clean(raw) == expected


@pytest.mark.parametrize(
    "emoji",
    [
        "\U0001f469\u200d\U0001f4bb",  # woman technologist (ZWJ sequence)
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # family (ZWJ sequence)
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # flag of Scotland (tags)
    ],
)
def test_clean_keeps_emoji_sequences(emoji: str) -> None:
    assert clean(f"look {emoji} here") == f"look {emoji} here"


@pytest.mark.parametrize(
    ("text", "max_bytes"),
    [
        ("short", MAX_PART_BYTES),
        ("x" * MAX_PART_BYTES, MAX_PART_BYTES),
        ("Two sentences. Both fit.", 24),
        ("中" * 10, 30),
        ("  keeps surrounding space  ", 100),
    ],
)
def test_split_under_limit_is_one_unchanged_part(text: str, max_bytes: int) -> None:
    assert split(text, max_bytes) == [text]


def test_split_empty_is_no_parts() -> None:
    assert split("") == []


SENTENCES = [
    f"Sentence number {n} talks about topic {n % 7} and ends here{'!' if n % 5 == 0 else '.'}"
    for n in range(400)
]
ENGLISH = " ".join(SENTENCES)


@pytest.mark.parametrize("max_bytes", [120, 500, 2000, MAX_PART_BYTES])
def test_split_long_english_on_sentence_boundaries(max_bytes: int) -> None:
    parts = split(ENGLISH, max_bytes)

    assert len(parts) > 1
    assert all(_size(part) <= max_bytes for part in parts)
    assert " ".join(parts).split() == ENGLISH.split()
    assert all(part.startswith("Sentence number") and part[-1] in ".!" for part in parts)


def test_split_packs_sentences_greedily() -> None:
    parts = split(ENGLISH, 2000)

    for part, following in itertools.pairwise(parts):
        first_sentence = following.split(". ")[0]
        assert _size(part) + 1 + _size(first_sentence) > 2000


def test_split_respects_newlines_as_boundaries() -> None:
    text = "\n".join(f"- bullet point {n} without a full stop" for n in range(50))

    parts = split(text, 200)

    assert all(_size(part) <= 200 for part in parts)
    assert all(part.startswith("- bullet point") and part.endswith("full stop") for part in parts)
    assert "\n".join(parts) == text


def test_split_breaks_an_overlong_sentence_at_words() -> None:
    text = " ".join(f"word{n}" for n in range(2000))

    parts = split(text, 300)

    assert len(parts) > 1
    assert all(_size(part) <= 300 for part in parts)
    assert " ".join(parts).split() == text.split()


@pytest.mark.parametrize("max_bytes", [60, 301, 1000, MAX_PART_BYTES])
def test_split_cjk_counts_three_bytes_per_char(max_bytes: int) -> None:
    text = "这是一个关于机器人的句子，它会被拆分。" * 1000  # noqa: RUF001

    parts = split(text, max_bytes)

    assert len(parts) > 1
    assert all(_size(part) <= max_bytes for part in parts)
    assert "".join(parts) == text
    assert all(part.endswith("。") for part in parts)


@pytest.mark.parametrize("max_bytes", [100, 1000, MAX_PART_BYTES])
def test_split_cjk_without_punctuation_cuts_between_chars(max_bytes: int) -> None:
    text = "机器人" * 5000

    parts = split(text, max_bytes)

    assert all(max_bytes - 3 < _size(part) <= max_bytes for part in parts[:-1])
    assert _size(parts[-1]) <= max_bytes
    assert "".join(parts) == text


@pytest.mark.parametrize(
    ("word", "max_bytes"),
    [
        ("a" * (MAX_PART_BYTES * 3 + 7), MAX_PART_BYTES),
        ("🎉" * 5000, 1023),
        ("é" * 999, 100),
        ("https://example.test/" + "p" * 3000, 1000),
    ],
)
def test_split_single_huge_word(word: str, max_bytes: int) -> None:
    parts = split(word, max_bytes)

    assert len(parts) > 1
    assert all(_size(part) <= max_bytes for part in parts)
    assert "".join(parts) == word


def test_split_huge_word_inside_text_keeps_other_words_whole() -> None:
    text = "Before the blob. " + "z" * 1000 + " after the blob."

    parts = split(text, 300)

    assert all(_size(part) <= 300 for part in parts)
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")
    assert parts[0] == "Before the blob."
    assert parts[-1].endswith("after the blob.")


@pytest.mark.parametrize("before", ["echo: ", "Look. echo: "])
def test_split_an_overlong_word_starts_in_the_part_of_the_words_before_it(before: str) -> None:
    text = before + "x" * 100_000

    parts = split(text)

    assert parts[0].startswith(before + "x")
    assert _size(parts[0]) == MAX_PART_BYTES
    assert all(_size(part) <= MAX_PART_BYTES for part in parts)
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")
    assert len(parts) == -(-_size(text) // MAX_PART_BYTES)  # every part full but the last


@pytest.mark.parametrize(
    ("text", "max_bytes"),
    [
        ("Visit example.com today please.", 20),
        ("The value of pi is roughly 3.14159 okay.", 30),
    ],
)
def test_split_does_not_cut_inside_dotted_words(text: str, max_bytes: int) -> None:
    parts = split(text, max_bytes)

    assert all(_size(part) <= max_bytes for part in parts)
    assert " ".join(parts).split() == text.split()


def test_journal_parts_keep_text_split_and_elements_whole() -> None:
    face = FaceElem(msg_content=FaceContent(index=3, data="wave"))
    parts = journal_parts([text_body("a" * (MAX_PART_BYTES + 10)), [face], text_body("\x1ebye\x00")])

    assert [len(part) for part in parts[:2]] == [MAX_PART_BYTES, 10]
    assert [part_body(part) for part in parts[2:]] == [[face], text_body("bye")]
    assert part_body(parts[0]) == text_body("a" * MAX_PART_BYTES)
