"""Evaluation results: one row per answered turn, summaries per prompt and provider, tables and files."""

from __future__ import annotations

import csv
import importlib
import json
import math
import re
import statistics
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Check:
    """One scored check of an answer, named after the suite key it comes from."""

    name: str
    passed: bool


@dataclass(frozen=True)
class EvalRow:
    """One turn of one conversation, answered with one prompt by one provider."""

    prompt: str
    provider: str
    conversation: str
    turn: int
    user: str
    answer: str
    latency_s: float
    checks: tuple[Check, ...]
    score: float = field(init=False)

    def __post_init__(self) -> None:
        passed = sum(check.passed for check in self.checks)
        object.__setattr__(self, "score", passed / len(self.checks) if self.checks else 1.0)

    @property
    def failed(self) -> list[str]:
        return [check.name for check in self.checks if not check.passed]


@dataclass(frozen=True)
class Summary:
    """How one prompt did with one provider: mean turn score and answer latencies."""

    prompt: str
    provider: str
    score: float
    median_s: float
    p90_s: float
    turns: int


USER_COLUMNS = 28
MIN_ANSWER_COLUMNS = 24

STAND_IN_PROVIDERS = frozenset({"echo"})
"""Providers that only stand in for a model: echo repeats the user, which passes checks on the user's
own words, so its scores say nothing about a prompt and it never picks the one production uses."""


@dataclass(frozen=True)
class Choice:
    """The best prompt and provider of a report, and why it may not be saved (`refusal`).

    Latency never breaks a tie: a run's noise would pick the winner. `tied_with` lists the other
    (prompt, provider) pairs with the same score among the providers that count.
    """

    prompt: str
    provider: str
    score: float
    tied_with: tuple[tuple[str, str], ...] = ()
    stand_in: bool = False

    @property
    def refusal(self) -> str | None:
        """Why this choice must not become the bot's prompt, or None when it may."""
        if self.stand_in:
            return (
                f"only the stand-in provider {self.provider} was evaluated; it repeats the user, so its "
                "scores say nothing about a prompt: add a real one (--provider local, openai or minimax)"
            )
        if self.tied_with:
            others = ", ".join(f"{prompt!r} with {provider}" for prompt, provider in self.tied_with)
            return (
                f"prompt {self.prompt!r} with {self.provider} ties with {others} at score "
                f"{self.score:.2f}: add checks that tell them apart, or keep one with --prompt"
            )
        return None

    def __str__(self) -> str:
        text = f"prompt {self.prompt!r} with {self.provider} (score {self.score:.2f})"
        if self.tied_with:
            text += " tied with " + ", ".join(f"{p!r} with {v}" for p, v in self.tied_with)
        return text + (" (a stand-in, not a real model)" if self.stand_in else "")


@dataclass(frozen=True)
class EvalReport:
    """The rows of a run, with the prompt texts they used, so the winner can be saved as configuration."""

    rows: Sequence[EvalRow]
    prompts: dict[str, str]

    def summary(self) -> list[Summary]:
        """One line per prompt and provider, in the order they ran."""
        return [_summarize(prompt, provider, rows) for (prompt, provider), rows in self._runs().items()]

    def best(self) -> Choice:
        """The highest mean score among real providers (stand-ins only if nothing else ran); equal
        scores are a tie, reported in `Choice.tied_with`, first in run order named."""
        if not self.rows:
            raise ValueError("the report has no rows")
        lines = self.summary()
        real = [line for line in lines if line.provider not in STAND_IN_PROVIDERS]
        candidates = real or lines
        top = max(line.score for line in candidates)
        tied = [line for line in candidates if math.isclose(line.score, top, abs_tol=1e-9)]
        first, *others = tied
        return Choice(
            prompt=first.prompt,
            provider=first.provider,
            score=first.score,
            tied_with=tuple((line.prompt, line.provider) for line in others),
            stand_in=not real,
        )

    def table(self, width: int = 100) -> str:
        """Answers by turn, then the summary, as plain text fitted to `width` columns (a terminal's).

        Answers wrap, never cut: side by side (a column per prompt/provider) when each gets at least
        `MIN_ANSWER_COLUMNS`, else each turn's answers one under the other.
        """
        return self._answers_table(width) + "\n\n" + self._summary_table()

    def _answers_table(self, width: int) -> str:
        runs = list(self._runs())
        cells: dict[tuple[str, int], dict[tuple[str, str], EvalRow]] = {}
        for row in self.rows:
            cells.setdefault((row.conversation, row.turn), {})[(row.prompt, row.provider)] = row
        turns = [(f"{conversation} #{turn}", by_run) for (conversation, turn), by_run in cells.items()]
        label = max([_width("conversation"), *(_width(name) for name, _ in turns)])
        user = min(USER_COLUMNS, max(8, width // 5))
        answer = (width - label - user - 2 * (len(runs) + 1)) // max(1, len(runs))
        if answer < MIN_ANSWER_COLUMNS:
            return _stacked(turns, runs, width)
        headers = [["conversation"], ["user"], *(_wrap(f"{p}/{v}", answer) for p, v in runs)]
        lines = [
            [[name], _wrap(next(iter(by_run.values())).user, user)]
            + [_wrap(_marked(by_run.get(run)), answer) for run in runs]
            for name, by_run in turns
        ]
        return _render_wrapped(headers, lines)

    def _summary_table(self) -> str:
        choice = self.best() if self.rows else None
        marks: dict[tuple[str, str], str] = {}
        if choice is not None:
            mark = "tie" if choice.tied_with else "best"
            for run in [(choice.prompt, choice.provider), *choice.tied_with]:
                marks[run] = mark + (" (stand-in)" if choice.stand_in else "")
        headers = ["prompt", "provider", "score", "median s", "p90 s", "turns", ""]
        lines = [_summary_cells(line, marks.get((line.prompt, line.provider), "")) for line in self.summary()]
        return _render_wrapped([[text] for text in headers], [[[text] for text in line] for line in lines])

    def to_json(self, path: str | Path) -> Path:
        """Prompts, summary and every row (with its checks) as one JSON document."""
        document = {
            "prompts": self.prompts,
            "summary": [asdict(line) for line in self.summary()],
            "rows": [asdict(row) for row in self.rows],
        }
        path = Path(path)
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return path

    def to_csv(self, path: str | Path) -> Path:
        """One line per turn; failed checks listed by name, separated by `; `."""
        records = self._records()
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=list(records[0]) if records else ["prompt"])
            writer.writeheader()
            writer.writerows(records)
        return path

    def to_dataframe(self) -> Any:
        """The CSV's rows as a pandas DataFrame; pandas is optional, so it is imported only here."""
        try:
            pandas = importlib.import_module("pandas")
        except ImportError:
            raise ImportError("EvalReport.to_dataframe needs pandas: pip install pandas") from None
        return pandas.DataFrame(self._records())

    def plot(self, path: str | Path | None = None) -> Figure:
        """Mean scores and latency spread per prompt/provider, saved to `path` when given.

        The figure belongs to no pyplot state; in Jupyter it shows as a cell's value with the inline backend.
        """
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError("EvalReport.plot needs matplotlib: pip install 'botkit[notebooks]'") from None
        lines = self.summary()
        labels = [f"{line.prompt}\n{line.provider}" for line in lines]
        latencies = [[row.latency_s for row in rows] for rows in self._runs().values()]
        figure = Figure(figsize=(max(6.0, 2.4 * len(lines)), 4.0), layout="constrained")
        scores_ax, latency_ax = figure.subplots(1, 2)
        scores_ax.bar(range(len(lines)), [line.score for line in lines])
        scores_ax.set(title="mean score", ylim=(0, 1))
        latency_ax.boxplot(latencies)
        latency_ax.set(title="latency (s)", ylim=(0, None))
        scores_ax.set_xticks(range(len(lines)), labels)
        latency_ax.set_xticks(range(1, len(lines) + 1), labels)
        if path is not None:
            figure.savefig(path)
        return figure

    def _runs(self) -> dict[tuple[str, str], list[EvalRow]]:
        """Rows grouped by (prompt, provider), in the order they ran."""
        runs: dict[tuple[str, str], list[EvalRow]] = {}
        for row in self.rows:
            runs.setdefault((row.prompt, row.provider), []).append(row)
        return runs

    def _records(self) -> list[dict[str, Any]]:
        return [
            {
                "prompt": row.prompt,
                "provider": row.provider,
                "conversation": row.conversation,
                "turn": row.turn,
                "user": row.user,
                "answer": row.answer,
                "latency_s": row.latency_s,
                "score": row.score,
                "failed": "; ".join(row.failed),
            }
            for row in self.rows
        ]


def _summarize(prompt: str, provider: str, rows: Sequence[EvalRow]) -> Summary:
    latencies = [row.latency_s for row in rows]
    p90 = statistics.quantiles(latencies, n=10, method="inclusive")[-1] if len(rows) > 1 else latencies[0]
    return Summary(
        prompt=prompt,
        provider=provider,
        score=statistics.fmean(row.score for row in rows),
        median_s=statistics.median(latencies),
        p90_s=p90,
        turns=len(rows),
    )


def _summary_cells(line: Summary, mark: str) -> list[str]:
    numbers = [f"{line.score:.2f}", f"{line.median_s:.3f}", f"{line.p90_s:.3f}", str(line.turns)]
    return [line.prompt, line.provider, *numbers, mark]


def _marked(row: EvalRow | None) -> str:
    """An answer with its passed/all checks in front, e.g. "[1/2] Yes, within 30 days."."""
    if row is None:
        return ""
    passed = sum(check.passed for check in row.checks)
    return (f"[{passed}/{len(row.checks)}] " if row.checks else "") + row.answer


def _stacked(
    turns: Sequence[tuple[str, dict[tuple[str, str], EvalRow]]], runs: Sequence[tuple[str, str]], width: int
) -> str:
    """Each turn as a block: the question, then one wrapped answer per prompt/provider."""
    name_width = max(_width(f"{p}/{v}") for p, v in runs) + 2
    text_width = max(20, width - name_width - 2)
    blocks = []
    for name, by_run in turns:
        lines = _wrap(f"{name}: {next(iter(by_run.values())).user}", max(20, width))
        for run in runs:
            wrapped = _wrap(_marked(by_run.get(run)), text_width) or [""]
            names = [f"{run[0]}/{run[1]}", *[""] * (len(wrapped) - 1)]
            lines += [
                f"  {_pad(left, name_width)}{text}".rstrip()
                for left, text in zip(names, wrapped, strict=True)
            ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _render_wrapped(headers: Sequence[list[str]], rows: Sequence[Sequence[list[str]]]) -> str:
    """A table whose cells are lists of lines; each row is as tall as its tallest cell."""
    widths = [
        max(_width(text) for line in [headers, *rows] for text in line[index] or [""])
        for index in range(len(headers))
    ]
    out = []
    for number, line in enumerate([headers, *rows]):
        height = max(len(cell) for cell in line) or 1
        for depth in range(height):
            texts = [cell[depth] if depth < len(cell) else "" for cell in line]
            out.append("  ".join(_pad(t, w) for t, w in zip(texts, widths, strict=True)).rstrip())
        if number == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` terminal columns, broken at spaces where it can be."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in re.findall(r"\S+\s*", paragraph):
            while _width(line + word.rstrip()) > width:
                if line:
                    lines.append(line.rstrip())
                    line = ""
                    continue
                head, word = _split_width(word, width)
                lines.append(head)
            line += word
        lines.append(line.rstrip())
    return lines


def _split_width(text: str, width: int) -> tuple[str, str]:
    used = 0
    for index, char in enumerate(text):
        used += _width(char)
        if used > width:
            return text[: max(1, index)], text[max(1, index) :]
    return text, ""


def _width(text: str) -> int:
    """Terminal columns: Chinese, Japanese and Korean characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
