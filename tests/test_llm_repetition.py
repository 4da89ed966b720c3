"""The loop detector that keeps a small model's repeated lines out of replies and memory."""

from __future__ import annotations

import pytest

from botkit.llm.repetition import cut_loop, loop_start, repeats_earlier

JOKE_LOOP = "Why did the chicken cross the road?\n" + "To get to the other side!\n" * 40


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (JOKE_LOOP, "Why did the chicken cross the road?\nTo get to the other side!"),
        ("Sure.\nI am a bot here.\nI am a bot here.\n", "Sure.\nI am a bot here."),
        (
            "A line to say.\nB is next.\nA line to say.\nB is next.\nA line to say.\n",
            "A line to say.\nB is next.",
        ),
        ("The time it is is 2023. " * 10, "The time it is is 2023."),
        ("Hello! I like cats and dogs, " * 3 + "and", "Hello! I like cats and dogs,"),
    ],
)
def test_a_loop_is_cut_after_its_first_occurrence(text: str, kept: str) -> None:
    assert cut_loop(text) == (kept, True)


@pytest.mark.parametrize(
    "text",
    [
        "Why did the chicken cross the road? To get to the other side!",
        "Yes.\nYes.\nYes.\nNo.",
        "ha ha ha ha ha ha",
        "1. Open the console.\n2. Open the app.\n3. Open the settings.",
        "I can help with orders. I can help with returns too.",
        "",
    ],
)
def test_ordinary_answers_are_left_alone(text: str) -> None:
    assert loop_start(text) is None
    assert cut_loop(text) == (text, False)


@pytest.mark.parametrize(
    ("answer", "earlier", "copied"),
    [
        (
            "What do you get for your stupid birthday? A funny joke!",
            ["What do you get for your  stupid birthday? A funny joke!"],
            True,
        ),
        ("A new joke, this time.", ["What do you get for your stupid birthday? A funny joke!"], False),
        ("Okay.", ["Okay."], False),
        ("Anything at all", [], False),
    ],
)
def test_an_answer_copied_from_an_earlier_one_is_spotted(
    answer: str, earlier: list[str], copied: bool
) -> None:
    assert repeats_earlier(answer, earlier) is copied
