"""`botkit replay FILE --to URL` against a real loopback sandbox and the bot it started."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from botkit.cli import cli
from botkit.lab.sandboxprocess import SandboxProcess
from botkit.lab.waiting import wait_until

SESSION = Path(__file__).parent / "sessions" / "hello.jsonl"
DEADLINE_SECONDS = 30.0


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    home = tmp_path_factory.mktemp("replay-cli")
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("BOTKIT_")]:
            patch.delenv(name)
        with SandboxProcess(home / "data", env={"BOTKIT_LLM": "echo"}, cwd=home) as sandbox:
            yield sandbox


def replay(running: SandboxProcess, *options: str) -> tuple[int, str]:
    assert running.webhook_url is not None
    args = ["replay", str(SESSION), "--to", running.webhook_url, "--sdkappid", str(running.app.sdkappid)]
    result = CliRunner().invoke(cli, [*args, *options])
    return result.exit_code, result.output


def robot_texts(running: SandboxProcess) -> list[str]:
    params = {"a": running.demo_user, "b": running.app.robots[0]}
    history = httpx.get(f"{running.base_url}/sandbox/api/history/c2c", params=params, trust_env=False).json()
    return [message["Text"] for message in history if message["From_Account"] == running.app.robots[0]]


def test_a_wrong_token_is_refused_by_the_bot_and_the_command_fails(running: SandboxProcess) -> None:
    code, output = replay(running, "--token", "not-the-token")

    assert code == 1
    assert "Bot.OnC2CMessage: 403" in output
    assert "replayed 2 callbacks" in output and "2 not accepted" in output


def test_a_recorded_session_replayed_with_the_token_is_answered_again(running: SandboxProcess) -> None:
    token = running.app.callback_token
    assert token is not None

    code, output = replay(running, "--token", token.get_secret_value())

    assert code == 0, output
    assert output.count("Bot.OnC2CMessage: 200") == 2

    def both_answered() -> list[str] | None:
        texts = robot_texts(running)
        return texts if len(texts) >= 2 else None

    texts = wait_until(
        both_answered,
        timeout=DEADLINE_SECONDS,
        failure="no replies in the sandbox",
        explain=lambda: f"; bot output:\n{running.output()}",
    )
    assert texts == ["echo: hello", "echo: what time is it?"]
