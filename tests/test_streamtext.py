"""The text a stream shows while the model writes: only ever extended by the final answer; cuts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from botkit.llm.base import strip_thinking
from botkit.replies import clean
from botkit.streamtext import LiveText, fit, has_sentence, utf8_size


def shown_after(*chunks: str, done: bool = False) -> str:
    live = LiveText()
    for chunk in chunks:
        live.add(chunk)
    if done:
        live.end()
    return live.shown()


@pytest.mark.parametrize(
    ("chunks", "shown"),
    [
        (["  Hello", " wor"], "Hello wor"),
        (["Hi <thi"], "Hi"),  # maybe the start of a thinking block: held back
        (["Hi <think>pondering"], "Hi"),
        (["<think>a</think>", "\n\nAnswer"], "Answer"),
        (["line\r", "\nnext"], "line\nnext"),
        (["a\x00b"], "ab"),
    ],
)
def test_shown_text_hides_thinking_and_control_characters(chunks: list[str], shown: str) -> None:
    assert shown_after(*chunks) == shown


@given(
    st.lists(st.sampled_from(["Hi", " ", "<", "think", ">", "</", "\n", "\r", "é", "。", "x"]), max_size=30)
)
def test_what_is_shown_is_always_a_prefix_of_the_final_answer(pieces: list[str]) -> None:
    final = clean(strip_thinking("".join(pieces)))
    for cut in range(len(pieces) + 1):
        assert final.startswith(shown_after(*pieces[:cut])), pieces[:cut]
    assert shown_after(*pieces, done=True) == final


@pytest.mark.parametrize(
    ("text", "max_bytes", "cut"),
    [
        ("short", 100, 5),
        ("aaaa bbbb cccc", 12, 9),  # before the space nearest the limit
        ("a " + "b" * 20, 12, 12),  # the only space is too far back: a hard cut
        ("日本語のテキスト", 9, 3),  # three bytes a character
    ],
)
def test_fit_cuts_within_the_budget_and_keeps_words_whole(text: str, max_bytes: int, cut: int) -> None:
    assert fit(text, max_bytes) == cut
    assert utf8_size(text[:cut]) <= max_bytes


def test_a_sentence_is_finished_by_its_end_mark_and_a_space() -> None:
    assert has_sentence("It is 3.14 now. And")
    assert not has_sentence("See example.com for")
    assert has_sentence("你好。")
