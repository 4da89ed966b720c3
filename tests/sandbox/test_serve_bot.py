"""`botkit serve examples.support:bot`, as `botkit sandbox --bot` runs it: the example's tool is
called by an OpenAI-compatible model stand-in, and the answer comes back through the sandbox."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from botkit.cli import cli
from botkit.lab.sandboxprocess import SandboxProcess
from botkit.lab.waiting import await_until
from botkit.restapi import ChatClient
from tests.chatmodel import FakeChatModel, call_tool, last, say
from tests.servers import serve_in_thread

REPO = Path(__file__).parents[2]


def support_model(body: dict[str, Any]) -> dict[str, Any]:
    """Calls the example's `order_status` tool, then says what it returned."""
    if last(body)["role"] == "tool":
        status = json.loads(last(body)["content"])
        return say(f"Order {status['order_id']} is {status['status']}.")
    return call_tool("order_status", order_id="1002")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[SandboxProcess, FakeChatModel]]:
    model = FakeChatModel(support_model)
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("BOTKIT_")]:
            patch.delenv(name)
        with serve_in_thread(model.app) as model_url:
            env = {
                "BOTKIT_LLM": "openai",
                "BOTKIT_LLM_BASE_URL": model_url + "/v1",
                "SUPPORT_ORDERS_DB": str(tmp_path / "orders.sqlite3"),
            }
            with SandboxProcess(tmp_path / "data", env=env, cwd=REPO, bot="examples.support:bot") as sandbox:
                yield sandbox, model


@pytest.mark.slow
async def test_botkit_serve_runs_the_example_bot_with_its_tool(
    served: tuple[SandboxProcess, FakeChatModel],
) -> None:
    sandbox, model = served
    robot = sandbox.app.robots[0]
    async with httpx.AsyncClient(base_url=sandbox.base_url, trust_env=False, timeout=10) as http:
        chat = ChatClient.from_settings(sandbox.settings(), http)
        message = {"kind": "c2c", "from_account": sandbox.demo_user, "to": robot, "text": "Where is 1002?"}
        assert (await http.post("/sandbox/api/send", json=message)).json()["ErrorCode"] == 0

        async def reply() -> Any:
            history = await chat.admin_getroammsg(sandbox.demo_user, robot)
            return next((m for m in history.msg_list if m.from_account == robot), None)

        answer = await await_until(reply, timeout=60, failure=f"no reply from {robot}")

    assert answer.msg_body[0].msg_content.text == "Order 1002 is packing."
    assert [body["messages"][-1]["role"] for body in model.requests] == ["user", "tool"]


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("nocolon", "give the bot as module:attribute, e.g. mybot:bot, not 'nocolon'"),
        ("no_such_module:bot", "no module 'no_such_module'"),
        (
            "examples.support:BLOCKED_WORDS",
            "examples.support:BLOCKED_WORDS: expected a botkit.Bot, found a tuple",
        ),
        ("examples.support:missing", "examples.support:missing: expected a botkit.Bot, found nothing"),
    ],
)
def test_a_bad_bot_import_string_is_a_clear_error(spec: str, error: str) -> None:
    result = CliRunner().invoke(cli, ["serve", spec])

    assert result.exit_code == 1
    assert error in result.output
