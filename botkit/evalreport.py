"""Evaluation results: one row per answered turn, summaries per prompt and provider, tables and files."""

from __future__ import annotations

import csv
import importlib
import json
import math
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

    def table(self, width: int = 36) -> str:
        """Answers side by side (a column per prompt/provider) and the summary, as plain text."""
        return self._answers_table(width) + "\n\n" + self._summary_table()

    def _answers_table(self, width: int) -> str:
        columns = list(self._runs())
        cells: dict[tuple[str, int], dict[tuple[str, str], EvalRow]] = {}
        for row in self.rows:
            cells.setdefault((row.conversation, row.turn), {})[(row.prompt, row.provider)] = row
        headers = [
            "conversation",
            "user",
            *(_fit(f"{prompt}/{provider}", width) for prompt, provider in columns),
        ]
        lines = [
            [f"{conversation} #{turn}", _fit(next(iter(by_run.values())).user, 28)]
            + [_cell(by_run.get(column), width) for column in columns]
            for (conversation, turn), by_run in cells.items()
        ]
        return _render(headers, lines)

    def _summary_table(self) -> str:
        choice = self.best() if self.rows else None
        marks: dict[tuple[str, str], str] = {}
        if choice is not None:
            mark = "tie" if choice.tied_with else "best"
            for run in [(choice.prompt, choice.provider), *choice.tied_with]:
                marks[run] = mark + (" (stand-in)" if choice.stand_in else "")
        headers = ["prompt", "provider", "score", "median s", "p90 s", "turns", ""]
        lines = [_summary_cells(line, marks.get((line.prompt, line.provider), "")) for line in self.summary()]
        return _render(headers, lines)

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


def _cell(row: EvalRow | None, width: int) -> str:
    if row is None:
        return ""
    passed = sum(check.passed for check in row.checks)
    mark = f"[{passed}/{len(row.checks)}] " if row.checks else ""
    return _fit(mark + row.answer, width)


def _render(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(_width(line[index]) for line in [headers, *rows]) for index in range(len(headers))]
    rule = ["-" * width for width in widths]
    return "\n".join(
        "  ".join(_pad(text, width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in [headers, rule, *rows]
    )


def _width(text: str) -> int:
    """Terminal columns: Chinese, Japanese and Korean characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _fit(text: str, width: int) -> str:
    """One line of at most `width` columns, cut with an ellipsis."""
    text = " ".join(text.split())
    if _width(text) <= width:
        return text
    kept, used = "", 1
    for char in text:
        used += _width(char)
        if used > width:
            break
        kept += char
    return kept + "…"


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
