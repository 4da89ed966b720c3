"""The chat UI in a real Chromium: send, see the bot's reply arrive, inspect the raw callback.

`python -m sandbox` runs as a child process with its `botkit serve` child (echo model), and the
browser drives the sandbox's page as a person would. Screenshots go to `artifacts/` at the repo root.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from botkit.lab.sandboxprocess import SandboxProcess

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 30_000


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return "no Chromium at /usr/bin/chromium or on PATH (apt-get install chromium)"
    for module in ("playwright", "gradio"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProcess]:
    """`python -m sandbox` with its bot on the echo model, in a fresh data dir."""
    reason = _missing()
    if reason is not None:
        print(f"skipping the browser test: {reason}")
        pytest.skip(reason)
    with SandboxProcess(tmp_path / "data", env={"BOTKIT_LLM": "echo"}, cwd=tmp_path) as running:
        yield running
        print(f"--- output of python -m sandbox ---\n{running.output()}")  # shown when the test fails


@contextmanager
def ui_page(sandbox: SandboxProcess) -> Iterator[Any]:
    """The sandbox's UI open in headless Chromium (1440 by 960); screenshots go to `ARTIFACTS`."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 960})
            page.goto(sandbox.base_url + "/")
            yield page
        finally:
            browser.close()


def _send(page: Any, text: str) -> None:
    box = page.locator("#message textarea")
    box.fill(text)
    box.press("Enter")


def test_chat_with_the_robot_then_in_a_group_and_inspect_the_callbacks(sandbox: SandboxProcess) -> None:
    from playwright.sync_api import expect

    robot = sandbox.app.robots[0]
    with ui_page(sandbox) as page:
        chat, table, detail = page.locator("#chat"), page.locator("#traffic"), page.locator("#detail")
        chat_with = page.get_by_label("Chat with")
        expect(page.get_by_label("You are")).to_have_value(sandbox.demo_user, timeout=TIMEOUT_MS)
        expect(chat_with).to_have_value(f"{robot} (1:1)", timeout=TIMEOUT_MS)

        _send(page, "hello")
        mine = chat.get_by_role("paragraph").filter(has=page.locator("strong", has_text=sandbox.demo_user))
        expect(mine.first).to_contain_text("hello", timeout=TIMEOUT_MS)
        expect(chat).to_contain_text("echo: hello", timeout=TIMEOUT_MS)
        # Both entries listed: the table is done changing, so the click lands on the callback row.
        expect(table).to_contain_text("Bot.OnC2CMessage", timeout=TIMEOUT_MS)
        expect(table).to_contain_text("openim/sendmsg", timeout=TIMEOUT_MS)
        table.get_by_text("Bot.OnC2CMessage").filter(visible=True).first.click()
        expect(detail).to_contain_text('"CallbackCommand"', timeout=TIMEOUT_MS)
        expect(detail).to_contain_text('"Bot.OnC2CMessage"')
        expect(detail).to_contain_text('"hello"')
        page.screenshot(path=str(ARTIFACTS / "ui-chat.png"), full_page=True)

        chat_with.click()
        page.get_by_role("option", name=re.compile(r"\(group\)")).first.click()
        expect(chat_with).to_have_value(re.compile(r"\(group\)$"), timeout=TIMEOUT_MS)
        _send(page, "hi group")
        expect(chat).to_contain_text(f"@{robot} hi group", timeout=TIMEOUT_MS)
        expect(chat).to_contain_text("echo: hi group", timeout=TIMEOUT_MS)
        expect(table).to_contain_text("Bot.OnGroupMessage", timeout=TIMEOUT_MS)
        page.screenshot(path=str(ARTIFACTS / "ui-group.png"), full_page=True)


def test_a_mention_shows_once_and_failures_say_what_happened(sandbox: SandboxProcess) -> None:
    from playwright.sync_api import expect

    robot = sandbox.app.robots[0]
    faults = f"{sandbox.base_url}/sandbox/api/faults"
    with ui_page(sandbox) as page:
        chat, banner = page.locator("#chat"), page.locator("#banner")
        chat_with = page.get_by_label("Chat with")
        expect(chat_with).to_have_value(f"{robot} (1:1)", timeout=TIMEOUT_MS)
        expect(banner).to_contain_text("Bot: ready", timeout=TIMEOUT_MS)
        chat_with.click()
        page.get_by_role("option", name=re.compile(r"\(group\)")).first.click()
        expect(chat_with).to_have_value(re.compile(r"\(group\)$"), timeout=TIMEOUT_MS)

        _send(page, f"{robot} what is a UserSig?")
        expect(chat).to_contain_text("echo: what is a UserSig?", timeout=TIMEOUT_MS)
        expect(chat).to_contain_text(f"@{robot} what is a UserSig?")
        expect(chat).not_to_contain_text(f"@{robot} {robot}")
        expect(page.get_by_text("GroupAtInfo names it")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "ui-mention-once.png"), full_page=True)

        assert httpx.put(faults, json={"drop_rate": 1.0}, trust_env=False).status_code == 200
        expect(banner).to_contain_text("Faults are on", timeout=TIMEOUT_MS)
        _send(page, "are you there?")
        expect(chat).to_contain_text("callback dropped (fault injection)", timeout=TIMEOUT_MS)
        page.screenshot(path=str(ARTIFACTS / "ui-dropped-callback.png"), full_page=True)

        failing = {"rest_failure_rate": 1.0, "rest_failure_code": 60008}
        assert httpx.put(faults, json=failing, trust_env=False).status_code == 200
        expect(banner).to_contain_text("of REST calls fail", timeout=TIMEOUT_MS)
        _send(page, "still there?")
        expect(chat).to_contain_text("typing…", timeout=TIMEOUT_MS)
        expect(chat).to_contain_text("the bot is retrying", timeout=TIMEOUT_MS)
        page.screenshot(path=str(ARTIFACTS / "ui-typing.png"), full_page=True)

        page.get_by_role("tab", name="Bot").click()
        expect(page.locator("#botlog")).to_contain_text("botkit ready", timeout=TIMEOUT_MS)
        page.screenshot(path=str(ARTIFACTS / "ui-bot-log.png"), full_page=True)
