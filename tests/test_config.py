"""Settings: BOTKIT_* variables, a .env file, ConfigError messages and hidden secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from botkit.config import DEFAULT_SYSTEM_PROMPT, Settings, configured_values, load_settings
from botkit.errors import ConfigError

KEY = "chat-key-that-must-stay-hidden"
TOKEN = "callback-token-that-must-stay-hidden"
LLM_KEY = "llm-key-that-must-stay-hidden"
SECRETS = (KEY, TOKEN, LLM_KEY)


def _set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def base_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The two required variables plus every secret, so error messages can be searched for them."""
    _set_env(
        monkeypatch,
        {
            "BOTKIT_SDKAPPID": "1400000000",
            "BOTKIT_KEY": KEY,
            "BOTKIT_CALLBACK_TOKEN": TOKEN,
            "BOTKIT_LLM_API_KEY": LLM_KEY,
        },
    )


def test_required_values_come_from_env(base_env: None) -> None:
    settings = load_settings()

    assert settings.sdkappid == 1400000000
    assert settings.key.get_secret_value() == KEY
    assert settings.callback_token is not None
    assert settings.callback_token.get_secret_value() == TOKEN
    assert settings.llm_api_key is not None
    assert settings.llm_api_key.get_secret_value() == LLM_KEY


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("@RBT#001", ["@RBT#001"]),
        ("@RBT#001,@RBT#002", ["@RBT#001", "@RBT#002"]),
        ("@RBT#001, @RBT#002", ["@RBT#001", "@RBT#002"]),
        (" @RBT#001 ,  @RBT#002 , ", ["@RBT#001", "@RBT#002"]),
    ],
)
def test_robots_is_a_comma_list(
    base_env: None, monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("BOTKIT_ROBOTS", value)

    assert load_settings().robots == expected


def test_robots_default_to_one_robot(base_env: None) -> None:
    assert load_settings().robots == ["@RBT#001"]


def test_robot_prompts_are_json(base_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTKIT_ROBOT_PROMPTS", '{"@RBT#001": "You are terse.", "@RBT#002": "你好"}')

    assert load_settings().robot_prompts == {"@RBT#001": "You are terse.", "@RBT#002": "你好"}


@pytest.mark.parametrize("llm", ["echo", "local", "openai", "minimax"])
def test_llm_accepts_each_provider(base_env: None, monkeypatch: pytest.MonkeyPatch, llm: str) -> None:
    monkeypatch.setenv("BOTKIT_LLM", llm)

    assert load_settings().llm == llm


def test_llm_is_unset_by_default(base_env: None) -> None:
    assert load_settings().llm is None


@pytest.mark.parametrize(
    ("name", "value", "field", "expected"),
    [
        (
            "BOTKIT_API_BASE",
            "https://adminapisgp.im.qcloud.com/",
            "api_base",
            "https://adminapisgp.im.qcloud.com",
        ),
        ("BOTKIT_API_BASE", "http://127.0.0.1:8080", "api_base", "http://127.0.0.1:8080"),
        ("BOTKIT_LLM_BASE_URL", "http://localhost:11434/v1/", "llm_base_url", "http://localhost:11434/v1"),
        ("BOTKIT_REST_TIMEOUT", "3.5", "rest_timeout", 3.5),
        ("BOTKIT_REST_RATE_LIMIT", "0", "rest_rate_limit", 0.0),
        ("BOTKIT_HISTORY_TURNS", "0", "history_turns", 0),
        ("BOTKIT_STORE", "memory://", "store", "memory://"),
        ("BOTKIT_CALLBACK_PATH", "/hooks/im", "callback_path", "/hooks/im"),
    ],
)
def test_env_values_are_parsed(
    base_env: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str, field: str, expected: object
) -> None:
    monkeypatch.setenv(name, value)

    assert getattr(load_settings(), field) == expected


def test_dotenv_file_in_cwd_is_read() -> None:
    Path(".env").write_text(
        f"BOTKIT_SDKAPPID=1400000001\nBOTKIT_KEY={KEY}\nBOTKIT_ROBOTS=@RBT#007, @RBT#008\nBOTKIT_LLM=echo\n",
        encoding="utf-8",
    )

    settings = load_settings()

    assert settings.sdkappid == 1400000001
    assert settings.key.get_secret_value() == KEY
    assert settings.robots == ["@RBT#007", "@RBT#008"]
    assert settings.llm == "echo"


def test_env_var_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text(f"BOTKIT_SDKAPPID=1400000001\nBOTKIT_KEY={KEY}\n", encoding="utf-8")
    monkeypatch.setenv("BOTKIT_SDKAPPID", "1400000002")

    assert load_settings().sdkappid == 1400000002


def test_explicit_arguments_win_over_env(base_env: None) -> None:
    assert load_settings(sdkappid=42, robots=["@RBT#x"]).sdkappid == 42


def test_another_env_file_is_read_instead_of_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("BOTKIT_SDKAPPID=1400000001\nBOTKIT_ADMIN=from-dotenv\n", encoding="utf-8")
    other = tmp_path / "bot.env"
    other.write_text(f"BOTKIT_SDKAPPID=1400000003\nBOTKIT_KEY={KEY}\n", encoding="utf-8")
    monkeypatch.setenv("BOTKIT_ROBOTS", "@RBT#env")

    settings = load_settings(env_file=other)

    assert (settings.sdkappid, settings.admin, settings.robots) == (1400000003, "administrator", ["@RBT#env"])


def test_without_environment_and_file_only_the_arguments_count(base_env: None) -> None:
    Path(".env").write_text("BOTKIT_ADMIN=from-dotenv\n", encoding="utf-8")

    settings = load_settings(env_file=None, environment=False, sdkappid=7, key="k")

    assert (settings.sdkappid, settings.admin, settings.callback_token) == (7, "administrator", None)


def test_configured_values_are_what_is_set_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("BOTKIT_ADMIN=from-dotenv\nBOTKIT_SDKAPPID=twelve\n", encoding="utf-8")
    monkeypatch.setenv("BOTKIT_ADMIN", "from-env")

    assert configured_values() == {"admin": "from-env", "sdkappid": "twelve"}
    assert configured_values(environment=False) == {"admin": "from-dotenv", "sdkappid": "twelve"}
    assert configured_values(env_file=None) == {"admin": "from-env"}


@pytest.mark.parametrize(
    ("env", "bad_names"),
    [
        ({"BOTKIT_SDKAPPID": None}, ["BOTKIT_SDKAPPID"]),
        ({"BOTKIT_KEY": None}, ["BOTKIT_KEY"]),
        ({"BOTKIT_SDKAPPID": None, "BOTKIT_KEY": None}, ["BOTKIT_SDKAPPID", "BOTKIT_KEY"]),
        ({"BOTKIT_SDKAPPID": "not-a-number"}, ["BOTKIT_SDKAPPID"]),
        ({"BOTKIT_SDKAPPID": "0"}, ["BOTKIT_SDKAPPID"]),
        ({"BOTKIT_ROBOTS": "bob"}, ["BOTKIT_ROBOTS"]),
        ({"BOTKIT_ROBOTS": "@RBT#001, RBT#002"}, ["BOTKIT_ROBOTS"]),
        ({"BOTKIT_ROBOTS": " , "}, ["BOTKIT_ROBOTS"]),
        ({"BOTKIT_API_BASE": "console.tim.qq.com"}, ["BOTKIT_API_BASE"]),
        ({"BOTKIT_API_BASE": "ftp://console.tim.qq.com"}, ["BOTKIT_API_BASE"]),
        ({"BOTKIT_LLM_BASE_URL": "localhost:11434"}, ["BOTKIT_LLM_BASE_URL"]),
        ({"BOTKIT_LLM": "gpt-4"}, ["BOTKIT_LLM"]),
        ({"BOTKIT_LLM": "ECHO"}, ["BOTKIT_LLM"]),
        ({"BOTKIT_REST_TIMEOUT": "3"}, ["BOTKIT_REST_TIMEOUT"]),
        ({"BOTKIT_REST_TIMEOUT": "2.5"}, ["BOTKIT_REST_TIMEOUT"]),
        ({"BOTKIT_REST_TIMEOUT": "0"}, ["BOTKIT_REST_TIMEOUT"]),
        ({"BOTKIT_REST_RATE_LIMIT": "-1"}, ["BOTKIT_REST_RATE_LIMIT"]),
        ({"BOTKIT_CALLBACK_PATH": "im"}, ["BOTKIT_CALLBACK_PATH"]),
        ({"BOTKIT_MAX_IN_FLIGHT": "0"}, ["BOTKIT_MAX_IN_FLIGHT"]),
        ({"BOTKIT_ROBOT_PROMPTS": '["not", "an", "object"]'}, ["BOTKIT_ROBOT_PROMPTS"]),
        (
            {"BOTKIT_SDKAPPID": "x", "BOTKIT_LLM": "gpt", "BOTKIT_REST_TIMEOUT": "1"},
            ["BOTKIT_SDKAPPID", "BOTKIT_LLM", "BOTKIT_REST_TIMEOUT"],
        ),
    ],
)
def test_bad_config_names_each_env_var_and_hides_secrets(
    base_env: None, monkeypatch: pytest.MonkeyPatch, env: dict[str, str | None], bad_names: list[str]
) -> None:
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError) as caught:
        load_settings()

    message = str(caught.value)
    for name in bad_names:
        assert name in message
    for secret in SECRETS:
        assert secret not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_missing_value_is_reported_as_required(base_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOTKIT_KEY")

    with pytest.raises(ConfigError, match="BOTKIT_KEY is required"):
        load_settings()


def test_unparsable_robot_prompts_json_is_a_config_error(
    base_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTKIT_ROBOT_PROMPTS", "{not json")

    with pytest.raises(ConfigError, match="BOTKIT_ROBOT_PROMPTS"):
        load_settings()


@pytest.mark.parametrize("render", [repr, str])
def test_repr_and_str_hide_secrets(base_env: None, render: object) -> None:
    assert callable(render)
    text = render(load_settings())

    for secret in SECRETS:
        assert secret not in text
    assert "1400000000" in text


@pytest.mark.parametrize(
    ("prompts", "robot", "expected"),
    [
        ({}, "@RBT#001", DEFAULT_SYSTEM_PROMPT),
        ({"@RBT#001": "Be a pirate."}, "@RBT#001", "Be a pirate."),
        ({"@RBT#001": "Be a pirate."}, "@RBT#002", DEFAULT_SYSTEM_PROMPT),
    ],
)
def test_prompt_for_uses_robot_prompt_else_shared(prompts: dict[str, str], robot: str, expected: str) -> None:
    settings = Settings(sdkappid=1, key=KEY, robot_prompts=prompts)

    assert settings.prompt_for(robot) == expected


def test_prompt_for_falls_back_to_custom_system_prompt() -> None:
    settings = Settings(sdkappid=1, key=KEY, system_prompt="Shared prompt.")

    assert settings.prompt_for("@RBT#001") == "Shared prompt."
