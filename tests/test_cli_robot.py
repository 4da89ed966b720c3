"""`botkit robot create|list|delete` against the sandbox served over loopback, as a user runs them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from click.testing import CliRunner
from pydantic import SecretStr

from botkit.cli import cli
from sandbox.app import create_backend_app
from sandbox.models import SandboxConfig
from sandbox.state import SandboxState
from tests.conftest import KEY, SDKAPPID


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    state = SandboxState()
    state.set_config(SandboxConfig(sdkappid=SDKAPPID, key=SecretStr(KEY), admin="administrator"))
    state.import_account("administrator")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_backend_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the sandbox did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
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
