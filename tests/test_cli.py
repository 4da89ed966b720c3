"""The `botkit` command, driven as a user would: configuration errors, UserSigs, robot management."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from botkit.cli import cli
from botkit.usersig import verify_usersig
from tests.support import KEY, SDKAPPID

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


def test_an_unreachable_api_names_the_host_in_each_retry_and_the_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = ENV | {"BOTKIT_API_BASE": "http://127.0.0.1:9", "BOTKIT_REST_RETRIES": "1"}

    code, output = run("robot", "list", env=env)

    assert code == 1
    [retry] = [record.getMessage() for record in caplog.records if record.name == "botkit.restapi"]
    assert "cannot reach http://127.0.0.1:9 (ConnectError), retry 1/1 in " in retry
    assert output.count("\n") == 1
    assert output.startswith("Error: openim_robot_http_svc/get_all_robots: cannot reach http://127.0.0.1:9")
    assert output.rstrip().endswith("gave up after 2 attempts; check BOTKIT_API_BASE and the network")


def test_serve_on_a_taken_port_is_one_clear_line_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        code, output = run("serve", "--port", str(port), env=ENV | {"BOTKIT_STORE": "memory://"})

    assert code == 1
    assert output.strip().splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use; "
        "stop what runs there or pick another --port"
    ]


def test_a_bad_value_is_named_with_a_colon_before_the_reason() -> None:
    code, output = run("usersig", env=ENV | {"BOTKIT_SDKAPPID": "abc"})

    assert code == 1
    assert "Error: invalid configuration: BOTKIT_SDKAPPID: Input should be a valid integer" in output
