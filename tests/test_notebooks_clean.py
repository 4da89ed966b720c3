"""The committed notebooks carry no outputs, and every cell CI skips says so where a reader sees it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
FILES = sorted(NOTEBOOKS.glob("*.ipynb"))
SKIP_TAG = "skip-execution"
SKIP_NOTE = "skipped in ci"


def load(path: Path) -> dict[str, Any]:
    """The notebook exactly as committed: its JSON, untouched by any reader's upgrades."""
    notebook: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return notebook


def code_cells(path: Path) -> list[dict[str, Any]]:
    return [cell for cell in load(path)["cells"] if cell["cell_type"] == "code"]


def test_the_three_notebooks_are_there() -> None:
    assert [path.name for path in FILES] == [
        "01_account_setup.ipynb",
        "02_prompt_tuning.ipynb",
        "03_build_a_bot.ipynb",
    ]


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_notebook_is_valid_nbformat_4(path: Path) -> None:
    notebook = load(path)

    nbformat.validate(notebook)
    assert notebook["nbformat"] == 4


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_notebook_is_committed_without_outputs_or_execution_counts(path: Path) -> None:
    dirty = [
        index
        for index, cell in enumerate(code_cells(path))
        if cell["outputs"] or cell["execution_count"] is not None or "execution" in cell["metadata"]
    ]

    assert dirty == [], f"{path.name}: code cells {dirty} keep outputs: clear all outputs before committing"


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_skipped_cells_say_so_in_their_first_line_and_only_those(path: Path) -> None:
    for cell in code_cells(path):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        first_line = source.splitlines()[0] if source else ""
        says_skipped = first_line.startswith("#") and SKIP_NOTE in first_line.lower()
        tagged = SKIP_TAG in cell["metadata"].get("tags", [])

        assert says_skipped == tagged, f"{path.name}: {first_line!r}"
