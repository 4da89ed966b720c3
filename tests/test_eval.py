"""Prompt evaluation: suite files, runs through Handler.reply, scores, reports, saving the winner, the CLI."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import matplotlib
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from botkit.cli import cli
from botkit.config import Settings
from botkit.errors import ConfigError
from botkit.lab.eval import (
    Check,
    EvalReport,
    EvalRow,
    Suite,
    TurnCase,
    check_answer,
    load_suite,
    progress_bar,
    providers_for,
    run_suite,
    save_best,
    save_prompt,
)
from botkit.llm.echo import EchoProvider
from tests.support import KEY, SDKAPPID, Failing, Scripted

matplotlib.use("Agg")

EXAMPLE = Path(__file__).parents[1] / "notebooks/suites/example.toml"

REFUND = "Can I get a refund?"
ORDER = "My order is 48213."
WHICH = "Which order did I mention?"


class Ticks:
    """A clock that moves `step` seconds each time it is read, so every answer takes `step`."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def make_suite(**prompts: str) -> Suite:
    return Suite.model_validate(
        {
            "prompts": prompts or {"helpful": "Be helpful."},
            "conversations": [
                {"name": "refund", "turns": [{"user": REFUND, "must_contain": ["refund"], "max_chars": 40}]},
                {
                    "name": "follow-up",
                    "turns": [{"user": ORDER}, {"user": WHICH, "must_contain": ["48213"]}],
                },
            ],
        }
    )


GOOD = {REFUND: "Yes, a refund within 30 days.", ORDER: "Noted, order 48213.", WHICH: "Order 48213."}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(text, encoding="utf-8")
    return path


def row(prompt: str, provider: str, latency: float, *checks: bool, turn: int = 1) -> EvalRow:
    return EvalRow(
        prompt=prompt,
        provider=provider,
        conversation="c",
        turn=turn,
        user="question",
        answer=f"answer from {prompt}/{provider}",
        latency_s=latency,
        checks=tuple(Check(f"check{index}", passed) for index, passed in enumerate(checks)),
    )


def test_the_example_suite_loads() -> None:
    suite = load_suite(EXAMPLE)

    assert len(suite.prompts) >= 2
    assert {c.name for c in suite.conversations} >= {"refund", "small-talk", "follow-up", "chinese"}
    assert len(next(c for c in suite.conversations if c.name == "follow-up").turns) == 2


VALID_TURN = '[[conversations]]\nname = "refund"\n[[conversations.turns]]\nuser = "hi"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prompts = {", "not valid TOML"),
        (VALID_TURN, "prompts: Field required"),
        ('[prompts]\na = "x"\n', "conversations: Field required"),
        ('[prompts]\na = "  "\n' + VALID_TURN, "prompts: Value error, empty prompt: a"),
        (
            '[prompts]\na = "x"\n' + VALID_TURN + "must_contains = ['x']\n",
            "conversations[refund].turns[1].must_contains",
        ),
        ('[prompts]\na = "x"\n' + VALID_TURN + "max_chars = 0\n", "conversations[refund].turns[1].max_chars"),
        ('[prompts]\na = "x"\n' + VALID_TURN + "must_match = ['(']\n", "bad regular expression '('"),
        ('[prompts]\na = "x"\n' + VALID_TURN + VALID_TURN, "conversation names must be unique: refund"),
        ('[prompts]\na = "x"\n' + VALID_TURN + 'robot = "bot"\n', "conversations[refund].turns[1].robot"),
        (
            '[prompts]\na = "x"\n[[conversations]]\nname = "c"\nrobot = "bot"\nturns = [{user = "hi"}]\n',
            "conversations[c].robot",
        ),
        ('[prompts]\na = "x"\n[[conversations]]\nname = "c"\nturns = []\n', "conversations[c].turns"),
    ],
)
def test_a_bad_suite_is_a_config_error_naming_file_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        load_suite(path)

    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


def test_a_missing_suite_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the suite"):
        load_suite(tmp_path / "missing.toml")


def test_only_keeps_the_named_prompts_in_that_order() -> None:
    suite = make_suite(a="A", b="B", c="C")

    assert list(suite.only(["c", "a"]).prompts) == ["c", "a"]
    assert suite.only([]) is suite
    with pytest.raises(ConfigError, match="no prompt named z in the suite; it has a, b, c"):
        suite.only(["z"])


@pytest.mark.parametrize(
    ("case", "answer", "latency", "expected"),
    [
        ({}, "anything", 1.0, []),
        ({"must_contain": ["Refund", "30 days"]}, "A REFUND within 30 Days", 0.1, [True, True]),
        ({"must_contain": ["refund"]}, "no money back", 0.1, [False]),
        ({"must_not_contain": ["mg"]}, "Take 200 MG", 0.1, [False]),
        ({"must_not_contain": ["mg"]}, "Ask a doctor", 0.1, [True]),
        ({"must_match": [r"[\u4e00-\u9fff]"]}, "你好", 0.1, [True]),
        ({"must_not_match": [r"\d+\s*mg"]}, "take 200 mg", 0.1, [False]),
        ({"max_chars": 5}, "12345", 0.1, [True]),
        ({"max_chars": 5}, "123456", 0.1, [False]),
        ({"max_seconds": 2}, "ok", 2.5, [False]),
    ],
)
def test_check_answer(case: dict[str, Any], answer: str, latency: float, expected: list[bool]) -> None:
    checks = check_answer(TurnCase(user="q", **case), answer, latency)

    assert [check.passed for check in checks] == expected


def test_check_names_follow_the_suite_keys() -> None:
    case = TurnCase(user="q", must_contain=["refund"], max_chars=300, max_seconds=1.5)

    assert [check.name for check in check_answer(case, "x", 0.0)] == [
        "must_contain:refund",
        "max_chars:300",
        "max_seconds:1.5",
    ]


async def test_run_suite_scores_every_turn_of_every_prompt_and_provider(settings: Settings) -> None:
    report = await run_suite(
        make_suite(a="A", b="B"), settings, {"good": Scripted(GOOD), "echo": EchoProvider()}, clock=Ticks(0.5)
    )

    assert [(r.prompt, r.provider, r.conversation, r.turn) for r in report.rows[:3]] == [
        ("a", "good", "refund", 1),
        ("a", "good", "follow-up", 1),
        ("a", "good", "follow-up", 2),
    ]
    assert len(report.rows) == 2 * 2 * 3
    by_key = {(r.prompt, r.provider, r.conversation, r.turn): r for r in report.rows}
    assert by_key[("a", "good", "refund", 1)].score == 1.0
    assert by_key[("a", "echo", "refund", 1)].answer == f"echo: {REFUND}"
    assert by_key[("a", "echo", "follow-up", 2)].failed == ["must_contain:48213"]
    assert by_key[("a", "echo", "follow-up", 1)].score == 1.0  # no checks
    best = report.best()
    assert (best.prompt, best.provider, best.score) == ("a", "good", 1.0)
    assert best.tied_with == (("b", "good"),)  # echo scores lower, and it could not win anyway
    assert report.prompts == {"a": "A", "b": "B"}


async def test_turns_go_through_memory_like_the_service(settings: Settings) -> None:
    provider = Scripted(GOOD)

    await run_suite(make_suite(), settings, {"good": provider})

    refund, order, which = provider.prompts
    assert [m.content for m in refund] == ["Be helpful.", REFUND]
    assert [m.content for m in order] == ["Be helpful.", ORDER]  # a fresh memory per conversation
    assert [(m.role, m.content) for m in which] == [
        ("system", "Be helpful."),
        ("user", ORDER),
        ("assistant", GOOD[ORDER]),
        ("user", WHICH),
    ]


async def test_the_suite_prompt_replaces_robot_prompts(settings: Settings) -> None:
    provider = Scripted(GOOD)
    robot_settings = settings.model_copy(update={"robot_prompts": {"@RBT#001": "Robot prompt."}})

    await run_suite(make_suite(candidate="Candidate prompt."), robot_settings, {"good": provider})

    assert {prompt[0].content for prompt in provider.prompts} == {"Candidate prompt."}


async def test_the_fallback_reply_scores_zero(settings: Settings) -> None:
    report = await run_suite(make_suite(), settings, {"failing": Failing()})

    assert {r.answer for r in report.rows} == {settings.fallback_reply}
    assert all(r.checks == (Check("no_fallback", False),) and r.score == 0.0 for r in report.rows)


async def test_an_answer_that_only_reads_like_the_fallback_is_scored(settings: Settings) -> None:
    # What an answer is comes from the answering path, never from its text.
    report = await run_suite(
        make_suite(), settings, {"mimic": Scripted(dict.fromkeys(GOOD, settings.fallback_reply))}
    )

    assert all(Check("no_fallback", False) not in r.checks for r in report.rows)


async def test_a_suite_robot_outside_botkit_robots_is_answered(settings: Settings) -> None:
    suite = Suite.model_validate(
        {
            "prompts": {"helpful": "Be helpful."},
            "conversations": [{"name": "c", "robot": "@RBT#002", "turns": [{"user": "@@RBT#002 hi"}]}],
        }
    )

    report = await run_suite(suite, settings, {"echo": EchoProvider()})

    assert [r.answer for r in report.rows] == ["echo: hi"]


async def test_latency_comes_from_the_injected_clock(settings: Settings) -> None:
    suite = Suite.model_validate(
        {
            "prompts": {"a": "A"},
            "conversations": [{"name": "c", "turns": [{"user": REFUND, "max_seconds": 0.2}]}],
        }
    )

    report = await run_suite(suite, settings, {"good": Scripted(GOOD)}, clock=Ticks(0.25))

    assert report.rows[0].latency_s == 0.25
    assert report.rows[0].failed == ["max_seconds:0.2"]


async def test_progress_counts_turns(settings: Settings) -> None:
    calls: list[tuple[int, int]] = []

    await run_suite(
        make_suite(a="A", b="B"), settings, {"echo": EchoProvider()}, progress=lambda *c: calls.append(c)
    )

    assert calls == [(done, 6) for done in range(7)]


async def test_run_suite_needs_a_provider(settings: Settings) -> None:
    with pytest.raises(ValueError, match="at least one provider"):
        await run_suite(make_suite(), settings, {})


def test_summary_median_p90_and_mean_score() -> None:
    rows = [
        row("a", "x", latency, True, False, turn=turn) for turn, latency in enumerate([1.0, 2.0, 3.0, 10.0])
    ]

    (line,) = EvalReport(rows=rows, prompts={"a": "A"}).summary()

    assert (line.prompt, line.provider, line.score, line.turns) == ("a", "x", 0.5, 4)
    assert line.median_s == 2.5
    assert line.p90_s == pytest.approx(7.9)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([row("a", "x", 1.0, True), row("b", "x", 0.1, False)], ("a", "x", ())),
        ([row("a", "x", 2.0, True), row("b", "x", 1.0, True)], ("a", "x", (("b", "x"),))),
        (
            [row("a", "x", 1.0, True), row("a", "y", 1.0, True, True), row("a", "z", 0.5)],
            ("a", "x", (("a", "y"), ("a", "z"))),
        ),
        ([row("a", "x", 1.0, True, False), row("b", "x", 0.2, False)], ("a", "x", ())),
    ],
)
def test_best_is_the_highest_score_and_equal_scores_tie_whatever_the_latency(
    rows: list[EvalRow], expected: tuple[str, str, tuple[tuple[str, str], ...]]
) -> None:
    best = EvalReport(rows=rows, prompts={}).best()
    assert (best.prompt, best.provider, best.tied_with) == expected


def test_the_echo_stand_in_never_wins_over_a_real_provider() -> None:
    rows = [
        row("a", "echo", 0.00003, True, True),
        row("b", "echo", 0.00001, True),
        row("b", "local", 3.0, True, False),
    ]

    best = EvalReport(rows=rows, prompts={}).best()

    assert (best.prompt, best.provider, best.score, best.stand_in) == ("b", "local", 0.5, False)
    assert best.refusal is None
    assert str(best) == "prompt 'b' with local (score 0.50)"


def test_a_report_of_only_the_stand_in_is_refused_with_the_reason() -> None:
    best = EvalReport(rows=[row("a", "echo", 1.0, True), row("b", "echo", 0.5, False)], prompts={}).best()

    assert (best.prompt, best.stand_in) == ("a", True)
    assert best.refusal is not None
    assert "only the stand-in provider echo was evaluated" in best.refusal
    assert "--provider local" in best.refusal


def test_a_tie_is_refused_naming_both() -> None:
    best = EvalReport(rows=[row("a", "local", 1.0, True), row("b", "local", 2.0, True)], prompts={}).best()

    assert best.refusal == (
        "prompt 'a' with local ties with 'b' with local at score 1.00: "
        "add checks that tell them apart, or keep one with --prompt"
    )


def test_save_best_notes_the_provider_and_score_above_the_prompt(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("BOTKIT_LLM=local\n", encoding="utf-8")
    report = EvalReport(rows=[row("a", "local", 1.0, True), row("b", "local", 1.0, False)], prompts=PROMPTS)

    saved = save_best(report, env_file, suite="example.toml")
    again = save_best(report, env_file, suite="example.toml")

    assert saved.path == again.path == env_file
    assert env_file.read_text(encoding="utf-8").splitlines() == [
        "BOTKIT_LLM=local",
        "# BOTKIT_SYSTEM_PROMPT chosen by botkit eval: prompt 'a' with local (score 1.00) on example.toml",
        'BOTKIT_SYSTEM_PROMPT="Prompt A"',
    ]
    assert str(saved) == f"saved prompt 'a' with local (score 1.00) to {env_file} as BOTKIT_SYSTEM_PROMPT"


@pytest.mark.parametrize(
    "rows",
    [[row("a", "echo", 1.0, True)], [row("a", "local", 1.0, True), row("b", "local", 1.0, True)]],
)
def test_save_best_writes_nothing_when_the_choice_is_refused(tmp_path: Path, rows: list[EvalRow]) -> None:
    saved = save_best(EvalReport(rows=rows, prompts=PROMPTS), tmp_path / ".env")

    assert saved.path is None
    assert str(saved).startswith("not saved: ")
    assert not (tmp_path / ".env").exists()


PROMPTS = {"a": "Prompt A", "b": "Prompt B"}


def test_best_of_an_empty_report_is_an_error() -> None:
    with pytest.raises(ValueError, match="no rows"):
        EvalReport(rows=[], prompts={}).best()


def test_table_shows_answers_side_by_side_wrapped_not_cut_and_the_summary() -> None:
    long_answer = "word " * 40
    rows = [
        row("a", "x", 1.0, True),
        EvalRow("b", "x", "c", 1, "question", long_answer, 2.0, (Check("k", False),)),
    ]

    table = EvalReport(rows=rows, prompts={}).table(width=100)

    answers = table.split("\n\n")[0].splitlines()
    assert answers[0].split() == ["conversation", "user", "a/x", "b/x"]
    assert all(len(line) <= 100 for line in table.splitlines())
    assert answers[2].startswith("c #1")
    assert "[1/1] answer from a/x" in answers[2]
    assert " ".join(" ".join(answers[2:]).split()).count("word") == 40
    assert "…" not in table
    summary = table.split("\n\n")[1].splitlines()
    assert summary[2].split() == ["a", "x", "1.00", "1.000", "1.000", "1", "best"]


def test_a_narrow_terminal_gets_each_answer_under_its_question() -> None:
    answer = "Yes, within thirty days of delivery, with the order number; faulty items are replaced."
    rows = [
        EvalRow(p, v, "refund", 1, "Can I get a refund?", answer, 1.0, ())
        for p in "ab"
        for v in ("echo", "local")
    ]

    table = EvalReport(rows=rows, prompts={}).table(width=60)

    answers = table.split("\n\n")[0].splitlines()
    assert answers[0] == "refund #1: Can I get a refund?"
    assert answers[1].split()[:2] == ["a/echo", "Yes,"]
    assert all(len(line) <= 60 for line in table.splitlines())
    assert sum(line.count("a/echo") for line in answers) == 1


def test_the_summary_marks_ties_and_stand_ins() -> None:
    rows = [row("a", "echo", 1.0, True), row("b", "echo", 2.0, True)]

    summary = EvalReport(rows=rows, prompts={}).table().split("\n\n")[1].splitlines()

    assert summary[2].endswith("tie (stand-in)") and summary[3].endswith("tie (stand-in)")


def test_results_files_can_be_read_back(tmp_path: Path) -> None:
    report = EvalReport(rows=[row("a", "x", 1.5, True, False)], prompts={"a": "Prompt A"})

    data = json.loads(report.to_json(tmp_path / "r.json").read_text(encoding="utf-8"))
    with report.to_csv(tmp_path / "r.csv").open(encoding="utf-8", newline="") as file:
        (line,) = list(csv.DictReader(file))

    assert data["prompts"] == {"a": "Prompt A"}
    assert data["summary"][0]["score"] == 0.5
    assert data["rows"][0]["checks"] == [
        {"name": "check0", "passed": True},
        {"name": "check1", "passed": False},
    ]
    assert (line["prompt"], line["latency_s"], line["score"], line["failed"]) == ("a", "1.5", "0.5", "check1")


def test_to_dataframe_has_a_row_per_turn() -> None:
    pytest.importorskip("pandas")
    report = EvalReport(rows=[row("a", "x", 1.0, True), row("b", "x", 1.0, False)], prompts={})

    frame = report.to_dataframe()

    assert list(frame["prompt"]) == ["a", "b"]
    assert list(frame["score"]) == [1.0, 0.0]


def test_plot_draws_scores_and_latencies(tmp_path: Path) -> None:
    report = EvalReport(rows=[row("a", "x", 1.0, True), row("b", "x", 2.0, False)], prompts={})

    figure = report.plot(tmp_path / "scores.png")

    assert isinstance(figure, Figure)
    scores, latency = figure.axes
    assert [bar.get_height() for bar in scores.patches if isinstance(bar, Rectangle)] == [1.0, 0.0]
    assert latency.get_title() == "latency (s)"
    assert (tmp_path / "scores.png").stat().st_size > 0


@pytest.mark.parametrize(
    "prompt",
    [
        "plain",
        "line one\nline two\n  indented\ttab",
        'quotes \' and " and \\" and a trailing backslash \\',
        "literal \\n, $HOME, # not a comment",
        "请问退货政策",
        "crlf\r\nend",
    ],
)
def test_a_saved_prompt_is_read_back_exactly_by_settings(tmp_path: Path, prompt: str) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("BOTKIT_LOG_LEVEL=DEBUG\nBOTKIT_SYSTEM_PROMPT='old\nmulti-line'\n# keep me\n")

    save_prompt(prompt, env_file)
    settings = Settings(_env_file=env_file, sdkappid=SDKAPPID, key=KEY)

    assert settings.system_prompt == prompt
    assert settings.log_level == "DEBUG"
    assert "# keep me" in env_file.read_text()


def test_save_prompt_creates_the_env_file_serve_reads() -> None:
    path = save_prompt("Saved prompt.")

    assert path == Path(".env")
    assert Settings(sdkappid=SDKAPPID, key=KEY).system_prompt == "Saved prompt."


def test_a_prompt_the_env_file_would_expand_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\$\{"):
        save_prompt("Hello ${USER}", tmp_path / ".env")
    assert not (tmp_path / ".env").exists()


async def test_providers_for_builds_each_named_provider(settings: Settings) -> None:
    async with httpx.AsyncClient() as http:
        providers = providers_for(["echo"], settings, http)
        assert list(providers) == ["echo"]
        assert isinstance(providers["echo"], EchoProvider)
        with pytest.raises(ConfigError, match="unknown provider nope; choose from echo, local"):
            providers_for(["nope"], settings, http)
        with pytest.raises(ConfigError, match="BOTKIT_LLM_API_KEY"):
            providers_for(["minimax"], settings, http)


def test_progress_bar_draws_with_tqdm(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar("suite") as progress:
        for done in range(4):
            progress(done, 3)

    assert "suite: 100%" in capsys.readouterr().err


def test_progress_bar_counts_without_tqdm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)

    with progress_bar("suite") as progress:
        for done in range(4):
            progress(done, 3)

    assert capsys.readouterr().err.endswith("\rsuite: 3/3 turns\n")


def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["eval", str(EXAMPLE), *args], env=env)
    return result.exit_code, result.output


def test_cli_eval_prints_the_table_and_writes_results_without_chat_credentials() -> None:
    code, output = run_cli("--provider", "echo", "--out", "results.json")

    assert code == 0, output
    assert "support-agent/echo" in output
    assert "echo: Hi, I bought headphones" in output
    assert "best: prompt '" in output
    data = json.loads(Path("results.json").read_text(encoding="utf-8"))
    assert len(data["rows"]) == len(data["prompts"]) * 6
    assert not Path(".env").exists()


def test_cli_eval_writes_csv_and_refuses_to_save_what_echo_chose() -> None:
    code, output = run_cli("--provider", "echo", "--prompt", "concise", "--out", "results.csv", "--save-best")

    assert code == 1, output
    assert "best: prompt 'concise' with echo (score" in output
    assert "Error: not saved: only the stand-in provider echo was evaluated" in output
    with Path("results.csv").open(encoding="utf-8", newline="") as file:
        assert {line["prompt"] for line in csv.DictReader(file)} == {"concise"}
    assert not Path(".env").exists()


def test_cli_eval_fits_the_table_to_the_terminal() -> None:
    code, output = run_cli("--provider", "echo", "--out", "results.json", env={"COLUMNS": "90"})

    assert code == 0, output
    table = output[output.index("refund #1") : output.index("\nbest: ")]
    assert max(len(line) for line in table.splitlines()) <= 90
    assert "Hi, I bought headphones from you two weeks ago" in " ".join(table.split())


def test_cli_eval_defaults_to_the_configured_provider() -> None:
    code, output = run_cli("--prompt", "plain", env={"BOTKIT_LLM": "echo"})

    assert code == 0, output
    assert "plain/echo" in output
    assert Path("eval-results.json").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--prompt", "nope"], "Error: no prompt named nope"),
        (["--provider", "nope"], "Invalid value for '--provider'"),
    ],
)
def test_cli_eval_reports_bad_arguments_plainly(args: list[str], expected: str) -> None:
    code, output = run_cli(*args)

    assert code != 0
    assert expected in output
    assert "Traceback" not in output
