"""The `botkit` command, driven as a user would: configuration errors, UserSigs, robot management."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from botkit.cli import cli
from botkit.usersig import verify_usersig
from tests.conftest import KEY, SDKAPPID

ENV = {"BOTKIT_SDKAPPID": str(SDKAPPID), "BOTKIT_KEY": KEY}


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def test_help_lists_the_commands() -> None:
    code, output = run("--help")

    assert code == 0
    for command in ("serve", "usersig", "robot", "sandbox"):
        assert command in output


@pytest.mark.parametrize("args", [["serve"], ["usersig"], ["robot", "list"]])
def test_missing_configuration_is_a_plain_error_naming_the_variables(args: list[str]) -> None:
    code, output = run(*args)

    assert code == 1
    assert "BOTKIT_SDKAPPID is required" in output
    assert "BOTKIT_KEY is required" in output
    assert "Traceback" not in output


def test_usersig_prints_a_verifiable_admin_sig() -> None:
    code, output = run("usersig", env=ENV)

    assert code == 0
    claims = verify_usersig(output.strip(), sdkappid=SDKAPPID, key=SecretStr(KEY), identifier="administrator")
    assert claims.expire == 7 * 86400


def test_usersig_for_another_identifier_and_expiry() -> None:
    code, output = run("usersig", "alice", "--expire", "3600", env=ENV)

    assert code == 0
    claims = verify_usersig(output.strip(), sdkappid=SDKAPPID, key=SecretStr(KEY), identifier="alice")
    assert claims.expire == 3600


def test_unreachable_api_is_reported_without_a_traceback() -> None:
    env = ENV | {"BOTKIT_API_BASE": "http://127.0.0.1:9", "BOTKIT_REST_RETRIES": "0"}

    code, output = run("robot", "list", env=env)

    assert code == 1
    assert "Error:" in output
    assert "get_all_robots" in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"BOTKIT_LLM": "minimax"}, "BOTKIT_LLM=minimax needs BOTKIT_LLM_API_KEY"),
        ({"BOTKIT_LOG_LEVEL": "verbose"}, "BOTKIT_LOG_LEVEL"),
        ({"BOTKIT_STORE": "mysql://db/bot"}, "BOTKIT_STORE"),
    ],
)
def test_serve_refuses_bad_settings_before_starting(extra: dict[str, str], message: str) -> None:
    code, output = run("serve", env=ENV | {"BOTKIT_STORE": "memory://"} | extra)

    assert code == 1
    assert message in output
    assert "Traceback" not in output
