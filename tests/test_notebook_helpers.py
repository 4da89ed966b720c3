"""The notebooks' helpers against an in-process sandbox wired to a real botkit app answering with echo."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from botkit.config import Settings
from botkit.elements import body_text, mention_text, text_body
from botkit.lab.notebook import (
    Connection,
    connect,
    open_connection,
    pick_provider,
    wait_for_group_reply,
    wait_for_reply,
)
from botkit.llm.local import LocalProvider
from sandbox.harness import SANDBOX_BASE_URL, InProcessSandbox
from tests.support import KEY, ROBOT, SDKAPPID, TOKEN, FakeClock


class FakeSandbox:
    """Stands for the sandbox process a connection started; the app itself runs in-process."""

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
async def conn(sandbox: InProcessSandbox) -> AsyncIterator[Connection]:
    """The demo user's connection to an in-process sandbox whose bot (botkit, echo) answers through it."""
    sandbox.add_user("bob")
    connection = open_connection(
        sandbox.settings, transport=sandbox.transport, sandbox=FakeSandbox(), user=sandbox.user
    )
    yield connection
    await connection.close()


async def test_wait_for_reply_returns_the_robots_answer_from_history(conn: Connection) -> None:
    sent = await conn.chat.send_c2c(
        conn.user, ROBOT, text_body("hello there"), msg_random=secrets.randbits(32)
    )

    reply = await wait_for_reply(conn.chat, conn.user, ROBOT, after=sent.msg_time, timeout=30)

    assert (reply.from_account, reply.to_account) == (ROBOT, conn.user)
    assert body_text(reply.msg_body) == "echo: hello there"


async def test_wait_for_group_reply_returns_the_robots_answer_after_the_question(conn: Connection) -> None:
    group_id = await conn.chat.create_group("Public", "helpers", owner=conn.user, members=[ROBOT])
    sent = await conn.chat.send_group(
        group_id,
        text_body(mention_text(ROBOT, "hi all")),
        random=1,
        from_account=conn.user,
        at_accounts=[ROBOT],
    )

    reply = await wait_for_group_reply(conn.chat, group_id, ROBOT, after_seq=sent.msg_seq, timeout=30)

    assert reply.from_account == ROBOT
    assert reply.msg_seq > sent.msg_seq
    assert "hi all" in body_text(reply.msg_body)


async def test_wait_for_reply_polls_history_until_the_deadline_then_says_what_to_check(
    conn: Connection,
) -> None:
    fake = FakeClock()

    with pytest.raises(TimeoutError, match=r"@RBT#001 did not answer bob within 2 s: is the bot running"):
        await wait_for_reply(conn.chat, "bob", ROBOT, after=0, timeout=2, clock=fake, sleep=fake.sleep)

    polls = [e for e in conn.exchanges.take() if e.url.split("?")[0].endswith("/openim/admin_getroammsg")]
    assert len(polls) == 5  # at 0, 0.5, 1, 1.5 and 2 s


async def test_wait_for_group_reply_gives_up_when_the_robot_stays_silent(conn: Connection) -> None:
    group_id = await conn.chat.create_group("Public", "quiet", owner=conn.user, members=[ROBOT])
    fake = FakeClock()

    with pytest.raises(TimeoutError, match=f"did not answer in {group_id} within 1 s"):
        await wait_for_group_reply(
            conn.chat, group_id, ROBOT, after_seq=0, timeout=1, clock=fake, sleep=fake.sleep
        )


async def test_exchanges_show_each_rest_call_with_the_usersig_masked(
    conn: Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    robots = await conn.chat.get_all_robots()

    conn.show_raw()

    shown = capsys.readouterr().out
    assert shown.startswith(f"→ POST {SANDBOX_BASE_URL}/v4/openim_robot_http_svc/get_all_robots?")
    assert "usersig=***&" in shown
    assert re.search(r"usersig=(?!\*\*\*&)", shown) is None
    assert f'"Robot_Account": [\n    "{robots[0]}"' in shown
    assert "← HTTP 200" in shown
    assert conn.exchanges.take() == []


@pytest.mark.parametrize("last, expected", [(None, 2), (1, 1)])
async def test_show_raw_prints_only_the_last_exchanges_when_asked(
    conn: Connection, capsys: pytest.CaptureFixture[str], last: int | None, expected: int
) -> None:
    await conn.chat.get_all_robots()
    await conn.chat.account_check([conn.user])

    conn.show_raw(last=last)

    shown = capsys.readouterr().out
    assert shown.count("→ POST") == expected
    assert "account_check" in shown


async def test_exchanges_mask_a_callback_token_sent_to_the_sandbox(conn: Connection) -> None:
    await conn.http.put(f"{SANDBOX_BASE_URL}/sandbox/api/config", json={"callback_token": "brand-new-token"})

    [exchange] = conn.exchanges.take()

    assert exchange.request == {"callback_token": "***"}
    assert exchange.response["callback_token_set"] is True
    assert "brand-new-token" not in str(exchange)


@pytest.mark.parametrize("source", ["environment", "dotenv"])
async def test_connect_uses_the_real_app_when_an_api_base_is_configured(
    source: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    values = {
        "BOTKIT_API_BASE": "https://adminapisgp.im.qcloud.com",
        "BOTKIT_SDKAPPID": str(SDKAPPID),
        "BOTKIT_KEY": KEY,
        "BOTKIT_CALLBACK_TOKEN": TOKEN,
    }
    if source == "environment":
        for name, value in values.items():
            monkeypatch.setenv(name, value)
    else:
        (tmp_path / ".env").write_text("".join(f"{name}={value}\n" for name, value in values.items()))

    connection = await connect()
    await connection.close()

    assert connection.sandbox is None
    assert connection.chat.api_base == "https://adminapisgp.im.qcloud.com"
    assert connection.settings.sdkappid == SDKAPPID
    assert connection.robot == "@RBT#001"


async def test_configure_webhook_points_a_sandbox_at_the_bot_with_the_callback_token(
    conn: Connection,
) -> None:
    await conn.http.put(f"{SANDBOX_BASE_URL}/sandbox/api/config", json={"callback_token": None})

    said = await conn.configure_webhook()

    assert said == "robot callbacks go to http://bot.test/im, signed with the callback token"
    [_, _, put] = conn.exchanges.take()
    assert (put.method, put.request) == (
        "PUT",
        {"webhook_url": "http://bot.test/im", "callback_token": "***"},
    )
    assert TOKEN not in str(put)


async def test_configure_webhook_on_a_real_app_changes_nothing_and_gives_the_console_steps(
    settings: Settings,
) -> None:
    connection = open_connection(settings.model_copy(update={"callback_path": "/bot"}))

    said = await connection.configure_webhook()
    await connection.close()

    assert "Callback configuration" in said
    assert "https://<your-host>/bot" in said
    assert "Robot event webhook" in said
    assert connection.exchanges.take() == []


async def test_close_stops_the_sandbox_the_connection_started(settings: Settings) -> None:
    sandbox = FakeSandbox()
    connection = open_connection(settings, sandbox=sandbox)

    await connection.close()

    assert sandbox.stopped
    assert connection.http.is_closed


@pytest.mark.parametrize(
    "overrides, name, reason",
    [
        ({"llm": "echo"}, "echo", "BOTKIT_LLM is echo"),
        ({"llm": None, "llm_api_key": SecretStr("sk-test")}, "openai", "BOTKIT_LLM_API_KEY is set"),
    ],
)
def test_pick_provider_names_the_provider_botkit_serve_would_use_and_why(
    settings: Settings, overrides: dict[str, object], name: str, reason: str
) -> None:
    assert pick_provider(settings.model_copy(update=overrides)) == (name, reason)


def test_pick_provider_without_a_key_prefers_the_embedded_model_and_explains_echo(settings: Settings) -> None:
    name, reason = pick_provider(settings.model_copy(update={"llm": None}))

    expected = "local" if LocalProvider.available() else "echo"
    assert name == expected
    assert reason.startswith("no LLM key is set")
    assert ("pip install 'botkit[local]'" in reason) == (name == "echo")


def test_importing_the_helpers_loads_no_sandbox_until_connect_starts_one() -> None:
    code = "import sys, botkit.lab.notebook; print('sandbox' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "False"
