"""`python -m sandbox` as a child process: ready only once its bot answers, and a quick, quiet stop.

An open browser tab holds Gradio's heartbeat stream (`/gradio_api/heartbeat/<session>`) open for
good; the stop must end it rather than wait out uvicorn's graceful-shutdown timeout and cancel it
with a traceback.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from botkit.lab.processes import free_port
from botkit.lab.sandboxprocess import SandboxProcess
from sandbox.botchild import BotChild, model_named
from sandbox.uiviews import bot_state

pytestmark = pytest.mark.slow

ECHO = {"BOTKIT_LLM": "echo"}
QUICK_STOP_SECONDS = 3.0


def test_the_urls_are_printed_once_the_bot_answers_its_health_check(tmp_path: Path) -> None:
    with SandboxProcess(tmp_path / "data", env=ECHO, cwd=tmp_path) as sandbox:
        health = httpx.get(f"{sandbox.base_url}/sandbox/api/health", trust_env=False).json()
        lines = sandbox.output().splitlines()

    assert health["bot"]["running"] and health["bot"]["ready"]
    assert health["bot"]["answering_with"] == "echo"  # the UI's banner says it too
    bot_listens = next(i for i, line in enumerate(lines) if "bot | " in line and "Uvicorn running" in line)
    banner = lines.index("botkit sandbox: a local Tencent Cloud Chat")
    assert bot_listens < banner


def test_a_stop_with_an_open_tab_is_quick_and_prints_no_traceback(tmp_path: Path) -> None:
    sandbox = SandboxProcess(tmp_path / "data", env=ECHO, cwd=tmp_path).start()
    streaming, ended = threading.Event(), threading.Event()

    def hold_the_heartbeat() -> None:
        url = f"{sandbox.base_url}/gradio_api/heartbeat/test-session"
        try:
            with httpx.stream("GET", url, timeout=None, trust_env=False) as response:
                for _ in response.iter_text():
                    streaming.set()
        except httpx.HTTPError:
            pass
        ended.set()

    threading.Thread(target=hold_the_heartbeat, daemon=True).start()
    try:
        assert streaming.wait(30), "the heartbeat stream never started"
        started = time.monotonic()
        sandbox.stop()
        took = time.monotonic() - started
    finally:
        sandbox.stop()

    output = sandbox.output()
    assert took < QUICK_STOP_SECONDS, f"the stop took {took:.1f} s:\n{output}"
    assert ended.wait(5)
    assert "Traceback" not in output and "CancelledError" not in output, output
    assert "graceful shutdown exceeded" not in output


def test_a_bot_that_dies_at_startup_is_never_ready_and_the_ui_says_so() -> None:
    """No BOTKIT_SDKAPPID or BOTKIT_KEY (the tests run without BOTKIT_* variables): `botkit serve`
    refuses its configuration and exits."""
    lines: list[str] = []
    bot = BotChild({}, port=free_port(), out=lines.append)
    bot.start()
    try:
        reason = bot.wait_ready(timeout=60)
    finally:
        bot.stop()

    assert reason is not None and reason.startswith("the bot (botkit serve) exited with code ")
    assert not bot.ready
    assert bot_state(bot, bot.webhook_url).startswith(f"⚠️ **Bot: exited with code {bot.exit_code}**")
    assert "BOTKIT_SDKAPPID" in "\n".join(bot.log_lines()), lines


@pytest.mark.parametrize(
    ("health", "named"),
    [
        ({"status": "ok", "llm": "local", "model": "SmolLM2-135M-Instruct"}, "local (SmolLM2-135M-Instruct)"),
        ({"status": "ok", "llm": "echo", "model": None}, "echo"),
        ({"status": "ok"}, None),
    ],
)
def test_the_bot_state_names_the_model_its_health_check_names(
    health: dict[str, object], named: str | None
) -> None:
    bot = BotChild({}, port=free_port(), out=lambda line: None)
    bot.answering_with = model_named(httpx.Response(200, json=health))
    bot.ready = True

    state = bot_state(bot, bot.webhook_url)

    assert bot.answering_with == named
    assert (f"Answering with **{named}**." in state) if named else ("Answering with" not in state)
