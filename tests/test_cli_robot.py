"""`botkit robot create|list|delete` against the sandbox served over loopback, as a user runs them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from botkit.cli import cli
from sandbox.app import create_backend_app
from sandbox.models import SandboxConfig
from sandbox.state import SandboxState
from tests.servers import serve_in_thread
from tests.support import KEY, SDKAPPID


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    state = SandboxState()
    state.set_config(SandboxConfig(sdkappid=SDKAPPID, key=SecretStr(KEY), admin="administrator"))
    state.import_account("administrator")
    with serve_in_thread(create_backend_app(state)) as url:
        yield url
    state.close()


def run(sandbox_url: str, *args: str) -> tuple[int, str]:
    env = {"BOTKIT_SDKAPPID": str(SDKAPPID), "BOTKIT_KEY": KEY, "BOTKIT_API_BASE": sandbox_url}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def test_robot_create_list_delete(sandbox_url: str) -> None:
    assert run(sandbox_url, "robot", "create", "@RBT#helper", "--nick", "Helper") == (
        0,
        "created @RBT#helper\n",
    )
    assert run(sandbox_url, "robot", "list") == (0, "@RBT#helper\n")
    assert run(sandbox_url, "robot", "delete", "@RBT#helper") == (0, "deleted @RBT#helper\n")
    assert run(sandbox_url, "robot", "list") == (0, "")


def test_robot_create_with_a_bad_id_shows_tencents_error(sandbox_url: str) -> None:
    code, output = run(sandbox_url, "robot", "create", "helper")

    assert code == 1
    assert "ErrorCode 10004" in output
    assert "Traceback" not in output


def test_a_wrong_key_is_reported_with_its_code(sandbox_url: str) -> None:
    env = {"BOTKIT_SDKAPPID": str(SDKAPPID), "BOTKIT_KEY": "not-the-key", "BOTKIT_API_BASE": sandbox_url}
    result = CliRunner().invoke(cli, ["robot", "list"], env=env)

    assert result.exit_code == 1
    assert "ErrorCode 70009" in result.output
    assert "not-the-key" not in result.output


def test_a_wrong_key_is_reported_once_with_the_setting_to_check(sandbox_url: str) -> None:
    env = {"BOTKIT_SDKAPPID": str(SDKAPPID), "BOTKIT_KEY": "not-the-key", "BOTKIT_API_BASE": sandbox_url}

    result = CliRunner().invoke(cli, ["robot", "list"], env=env)

    assert result.exit_code == 1
    assert result.output.count("ErrorCode 70009") == 1
    assert f"(check BOTKIT_KEY: it must be the secret key of SDKAppID {SDKAPPID})" in result.output
    assert "not-the-key" not in result.output
