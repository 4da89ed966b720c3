"""What a fresh clone needs: `.[dev]` covers the README's notebook path; eval output stays out of git."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def extra(name: str, extras: dict[str, list[str]]) -> set[str]:
    """The distribution names an extra installs, following `botkit[...]` references."""
    names: set[str] = set()
    for requirement in extras[name]:
        if own := re.fullmatch(r"botkit\[([\w,]+)\]", requirement):
            for included in own.group(1).split(","):
                names |= extra(included, extras)
        else:
            names.add(re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0].lower())
    return names


def test_the_dev_extra_has_what_the_notebook_readme_runs() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]

    assert {"jupyterlab", "nbconvert", "ipykernel", "nbclient"} <= extra("dev", extras)
    assert "jupyter lab notebooks/" in (ROOT / "notebooks/README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", ["eval-results.json", "eval-results.csv"])
def test_the_default_eval_results_file_is_ignored_by_git(path: str) -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run([git, "check-ignore", "-q", path], cwd=ROOT, check=False)
    assert result.returncode == 0
