"""What `python -m sandbox` starts with: an app made once and kept, pinned by BOTKIT_*, seeded."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dotenv import dotenv_values

from botkit.errors import ConfigError
from botkit.lab.sandboxprocess import BOT_ENV_FILE
from sandbox import seed
from sandbox.seed import DEMO_GROUP, DEMO_USER, bot_env, pinned_values, seed_app, write_env_file
from sandbox.server import ServerOptions, create_server_app, serve
from sandbox.state import SandboxState

WEBHOOK = "http://127.0.0.1:9001/im"


@pytest.fixture
def state() -> Iterator[SandboxState]:
    state = SandboxState()
    yield state
    state.close()


def test_the_first_run_generates_an_app_and_later_runs_keep_it(tmp_path: Path) -> None:
    path = str(tmp_path / "sandbox.db")
    state = SandboxState(path)
    first = seed_app(state, {}, webhook_url=WEBHOOK, rng=random.Random(1))
    state.close()
    state = SandboxState(path)
    again = seed_app(state, {}, webhook_url="http://127.0.0.1:9002/im", rng=random.Random(2))
    state.close()

    assert 1400000000 < first.config.sdkappid < 1401000000
    assert first.config.callback_token is not None
    assert (again.config.sdkappid, again.config.key, again.config.callback_token) == (
        first.config.sdkappid,
        first.config.key,
        first.config.callback_token,
    )
    assert again.config.webhook_url == "http://127.0.0.1:9002/im"
    assert again.robots == first.robots == ["@RBT#001"]


def test_the_environment_pins_the_app_and_its_robots(
    state: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = {
        "BOTKIT_SDKAPPID": "1400000042",
        "BOTKIT_KEY": "pinned-key",
        "BOTKIT_CALLBACK_TOKEN": "pinned-token",
        "BOTKIT_ADMIN": "boss",
        "BOTKIT_ROBOTS": "@RBT#a, @RBT#b",
        "BOTKIT_LLM": "echo",
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    app = seed_app(state, pinned_values(), webhook_url=WEBHOOK, rng=random.Random(1))

    config = state.config
    assert (config.sdkappid, config.key.get_secret_value(), config.admin) == (
        1400000042,
        "pinned-key",
        "boss",
    )
    assert config.callback_token is not None and config.callback_token.get_secret_value() == "pinned-token"
    assert app.robots == [robot.user_id for robot in state.robots()] == ["@RBT#a", "@RBT#b"]
    assert state.account_exists("boss") and state.account_exists(DEMO_USER)
    assert state.members(DEMO_GROUP) == [DEMO_USER, "@RBT#a", "@RBT#b"]


def test_only_the_app_fields_set_in_the_environment_pin_it(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("BOTKIT_SDKAPPID=1400000099\n", encoding="utf-8")
    monkeypatch.setenv("BOTKIT_ADMIN", "")
    monkeypatch.setenv("BOTKIT_LLM", "echo")
    monkeypatch.setenv("BOTKIT_ROBOTS", "@RBT#a")

    assert pinned_values() == {"robots": "@RBT#a"}


def test_a_later_run_adds_new_robots_to_the_kept_app(state: SandboxState) -> None:
    seed_app(state, {}, webhook_url=WEBHOOK, rng=random.Random(1))
    app = seed_app(state, {"robots": "@RBT#001,@RBT#002"}, webhook_url=WEBHOOK, rng=random.Random(1))

    assert app.robots == ["@RBT#001", "@RBT#002"]
    assert state.members(DEMO_GROUP) == [DEMO_USER, "@RBT#001", "@RBT#002"]


@pytest.mark.parametrize(
    ("pinned", "named"),
    [
        ({"sdkappid": "twelve"}, "BOTKIT_SDKAPPID"),
        ({"sdkappid": "0"}, "BOTKIT_SDKAPPID"),
        ({"robots": "helper"}, "BOTKIT_ROBOTS"),
    ],
)
def test_a_bad_variable_is_a_config_error_naming_it(
    state: SandboxState, pinned: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        seed_app(state, pinned, webhook_url=WEBHOOK, rng=random.Random(1))


def test_the_bot_env_file_reads_back_the_same_and_is_private(tmp_path: Path, state: SandboxState) -> None:
    app = seed_app(state, {}, webhook_url=WEBHOOK, rng=random.Random(1))
    env = bot_env(app, "http://127.0.0.1:8000")
    path = tmp_path / "bot.env"

    write_env_file(path, env)

    assert dotenv_values(path) == env
    assert env["BOTKIT_API_BASE"] == "http://127.0.0.1:8000"
    assert env["BOTKIT_ROBOTS"] == "@RBT#001"
    assert path.stat().st_mode & 0o777 == 0o600


def test_botkit_looks_for_the_bot_env_file_where_the_sandbox_writes_it() -> None:
    assert BOT_ENV_FILE == seed.BOT_ENV_FILE


async def test_health_names_the_app_and_no_bot_when_callbacks_go_elsewhere(state: SandboxState) -> None:
    app = seed_app(state, {}, webhook_url=WEBHOOK, rng=random.Random(1))
    server_app = create_server_app(state, None)
    transport = httpx.ASGITransport(app=server_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        health = (await client.get("/sandbox/api/health")).json()
        ui = await client.get("/")

    assert health == {
        "status": "ok",
        "sdkappid": app.config.sdkappid,
        "webhook_url": WEBHOOK,
        "bot": None,
        "demo_user": DEMO_USER,
        "demo_group": DEMO_GROUP,
    }
    assert ui.status_code == 200
    assert "text/html" in ui.headers["content-type"]


@pytest.mark.parametrize(
    ("environ", "webhook_url", "status", "said"),
    [
        ({"BOTKIT_SDKAPPID": "twelve"}, None, 2, "BOTKIT_SDKAPPID"),
        ({}, "bot.test/im", 2, "invalid webhook URL"),
    ],
)
def test_serve_refuses_bad_settings_with_a_message(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    environ: dict[str, str],
    webhook_url: str | None,
    status: int,
    said: str,
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    lines: list[str] = []
    options = ServerOptions(port=0, data_dir=tmp_path / "data", webhook_url=webhook_url)

    assert serve(options, out=lines.append) == status
    assert said in "\n".join(lines)


def test_serve_says_when_its_port_is_taken(tmp_path: Path) -> None:
    lines: list[str] = []
    with socket.create_server(("127.0.0.1", 0)) as taken:
        options = ServerOptions(port=taken.getsockname()[1], data_dir=tmp_path / "data")

        assert serve(options, out=lines.append) == 1
    assert f"cannot listen on 127.0.0.1:{options.port}" in "\n".join(lines)
