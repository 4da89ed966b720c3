"""Shared fixtures: explicit settings, a clean BOTKIT_* environment, the sandbox as the Chat REST API.

The suite opts into botkit's pytest plugin as any project does (`pytest_plugins`), and runs the
plugin's sandbox on the same settings as every other test. Plain helpers live in tests/support.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from botkit.config import Settings
from sandbox.harness import InProcessSandbox
from tests.support import sandbox_chat_api, suite_settings

pytest_plugins = ["sandbox.testkit", "tests.redisserver"]


@pytest.fixture(autouse=True)
def _scrub_botkit_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """No test sees the developer's BOTKIT_* variables or .env file."""
    for name in list(os.environ):
        if name.startswith("BOTKIT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def settings() -> Settings:
    return suite_settings()


@pytest.fixture
def botkit_settings(settings: Settings) -> Settings:
    """The plugin's sandbox and bot run on the suite's settings."""
    return settings


@pytest.fixture
def chat_api(settings: Settings) -> Iterator[InProcessSandbox]:
    """The Chat REST API of a bot a test builds itself: an in-process sandbox, not yet running."""
    local = sandbox_chat_api(settings)
    yield local
    local.close()
