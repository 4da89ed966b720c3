"""A streamed answer grows in the sandbox's chat pane, seen by a real Chromium.

`python -m sandbox` runs with its bot on a model stand-in that streams 20 words a second; the page is
read every 100 ms while the answer arrives. Screenshots go to `artifacts/`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from botkit.lab.sandboxprocess import SandboxProcess
from tests.sandbox.test_ui_browser import ARTIFACTS, TIMEOUT_MS, _missing, _send, ui_page
from tests.servers import serve_in_thread
from tests.streammodel import streaming_model

pytestmark = pytest.mark.slow

WORDS = 120  # six seconds at 20 words a second
ANSWER = " ".join(f"word{n}" for n in range(WORDS))
_WORD = re.compile(r"\bword(\d+)\b")


@pytest.fixture
def model_url() -> Iterator[str]:
    with serve_in_thread(streaming_model(ANSWER)) as url:
        yield url + "/v1"


@pytest.fixture(params=["native", "edit"])
def sandbox(request: pytest.FixtureRequest, model_url: str, tmp_path: Path) -> Iterator[SandboxProcess]:
    reason = _missing()
    if reason is not None:
        pytest.skip(reason)
    env = {
        "BOTKIT_LLM": "openai",
        "BOTKIT_LLM_BASE_URL": model_url,
        "BOTKIT_LLM_API_KEY": "stand-in",
        "BOTKIT_STREAM": request.param,
    }
    with SandboxProcess(tmp_path / "data", env=env, cwd=tmp_path) as running:
        yield running
        print(f"--- output of python -m sandbox ---\n{running.output()}")


def test_the_chat_shows_the_answer_growing(sandbox: SandboxProcess) -> None:
    from playwright.sync_api import expect

    robot = sandbox.app.robots[0]
    with ui_page(sandbox) as page:
        chat = page.locator("#chat")
        expect(page.get_by_label("Chat with")).to_have_value(f"{robot} (1:1)", timeout=TIMEOUT_MS)
        expect(page.locator("#banner")).to_contain_text("Bot: ready", timeout=TIMEOUT_MS)
        _send(page, "tell me a long story")
        seen: list[int] = []  # the last word shown, at each change
        deadline = time.monotonic() + 60
        while not seen or seen[-1] < WORDS - 1:
            assert time.monotonic() < deadline, f"the answer never finished; seen {seen}"
            numbers = [int(n) for n in _WORD.findall(chat.inner_text())]
            if numbers and (not seen or max(numbers) != seen[-1]):
                seen.append(max(numbers))
                if len(seen) == 3:
                    page.screenshot(path=str(ARTIFACTS / "ui-stream-growing.png"), full_page=True)
            page.wait_for_timeout(100)
        expect(chat).to_contain_text(ANSWER, timeout=TIMEOUT_MS)
        page.screenshot(path=str(ARTIFACTS / "ui-stream-done.png"), full_page=True)
    intermediate = seen[:-1]
    assert len(intermediate) >= 3, f"saw only {seen}"
    assert intermediate == sorted(intermediate)
