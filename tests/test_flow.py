"""botkit and the sandbox in one event loop, through the testkit: message in, one reply out.

The sandbox fires signed callbacks at the bot app and the bot answers over REST into the sandbox,
both over `httpx.ASGITransport`; the assertions read what the sandbox stored and logged.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pydantic import SecretStr

from botkit.app import create_app, wiring_of
from botkit.config import Settings
from botkit.elements import TextElem, body_text, text_body
from botkit.restmodels import RestCommand
from botkit.restrequests import SendC2CRequest
from botkit.store import EntryStatus
from sandbox.chat import Chat
from sandbox.faults import Faults
from sandbox.harness import InProcessSandbox
from sandbox.models import C2CRecord
from tests.support import ROBOT, fail_rest_calls

ROOT = Path(__file__).parents[1]


async def test_c2c_hello_gets_exactly_one_text_reply_from_the_robot(
    sandbox: InProcessSandbox, chat: Chat
) -> None:
    reply = await chat.send("hello")

    assert (reply.sender, reply.text) == (ROBOT, "echo: hello")
    stored = sandbox.state.c2c_history(sandbox.user, ROBOT)
    from_robot = [record for record in stored if record.from_account == ROBOT]
    assert len(from_robot) == 1
    assert from_robot[0].to_account == sandbox.user
    [element] = from_robot[0].body
    assert isinstance(element, TextElem)
    assert element.msg_content.text
    assert len(sandbox.rest_calls("openim/sendmsg")) == 1


async def test_group_mention_gets_one_group_reply_that_mentions_the_asker(
    sandbox: InProcessSandbox, chat: Chat
) -> None:
    reply = await chat.send_group("hello")

    assert reply.sender == ROBOT
    assert reply.text.startswith(f"@{sandbox.user} ")
    [call] = sandbox.rest_calls("group_open_http_svc/send_group_msg")
    assert call.request["GroupId"] == sandbox.group
    assert call.request["From_Account"] == ROBOT
    assert call.request["GroupAtInfo"] == [{"GroupAtAllFlag": 0, "GroupAt_Account": sandbox.user}]
    from_robot = [r for r in sandbox.state.group_history(sandbox.group) if r.from_account == ROBOT]
    assert len(from_robot) == 1


async def test_another_user_gets_their_own_reply(sandbox: InProcessSandbox, chat: Chat) -> None:
    reply = await chat.as_user("bob").send("hi from bob")

    assert reply.text == "echo: hi from bob"
    assert isinstance(reply.record, C2CRecord)
    assert reply.record.to_account == "bob"
    group_reply = await chat.as_user("bob").send_group("and here")
    assert group_reply.text.startswith("@bob ")


async def test_a_duplicated_callback_is_answered_once(sandbox: InProcessSandbox, chat: Chat) -> None:
    sandbox.backend.faults = Faults(duplicate_rate=1.0)

    await chat.send("hello")
    await sandbox.settle()

    callbacks = sandbox.callbacks()
    assert [entry.status for entry in callbacks] == [200, 200]
    assert callbacks[0].request == callbacks[1].request
    assert len(sandbox.rest_calls("openim/sendmsg")) == 1
    history = sandbox.state.c2c_history(sandbox.user, ROBOT)
    assert [record.from_account for record in history] == [ROBOT, sandbox.user]


async def test_a_retryable_rest_failure_still_delivers_the_reply(
    sandbox: InProcessSandbox, chat: Chat
) -> None:
    fail_rest_calls(sandbox, 60008, times=1)

    reply = await chat.send("hello")

    assert reply.text == "echo: hello"
    codes = [entry.response["ErrorCode"] for entry in sandbox.rest_calls("openim/sendmsg")]
    assert codes == [60008, 0]


async def test_a_bot_with_the_wrong_key_gets_70009_and_gives_the_message_up(
    botkit_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    local = InProcessSandbox(botkit_settings)
    wrong = botkit_settings.model_copy(update={"key": SecretStr("not-this-apps-key")})
    bot = create_app(wrong, transport=local.transport)
    try:
        async with local.running(bot):
            with caplog.at_level(logging.ERROR, logger="botkit.intake"):
                sent = local.send_c2c(local.user, ROBOT, "hello")
                await local.settle()
            entry = await wiring_of(bot).store.get(f"c2c:{local.user}:{ROBOT}:{sent.msg_key}")
            local.send_c2c(local.user, ROBOT, "still there?")
            await local.settle()

            [first, _] = local.rest_calls("openim/sendmsg")
            assert first.response["ErrorCode"] == 70009
            assert entry is not None
            assert entry.status is EntryStatus.FAILED
            assert "70009" in (entry.error or "")
            assert any("giving up" in r.getMessage() and "70009" in r.getMessage() for r in caplog.records)
            assert [callback.status for callback in local.callbacks()] == [200, 200]
            assert local.c2c_replies(sent) == []
    finally:
        local.close()


async def test_no_reply_is_a_timeout_that_says_what_happened(sandbox: InProcessSandbox) -> None:
    sandbox.backend.faults = Faults(drop_rate=1.0)
    patient = Chat(sandbox, sandbox.user, timeout=0.2)

    with pytest.raises(TimeoutError) as caught:
        await patient.send("anyone?")

    message = str(caught.value)
    assert f"no reply from {ROBOT} to {sandbox.user}" in message
    assert "callback Bot.OnC2CMessage: dropped by fault injection" in message


def readme_testing_examples() -> list[str]:
    """The Python blocks of the README's "Testing your bot" section, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Testing your bot", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def test_installing_botkit_loads_no_pytest_plugin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    assert "pytest11" not in project.get("entry-points", {})


@pytest.mark.slow
def test_a_project_that_opts_in_as_the_readme_says_runs_its_examples(tmp_path: Path) -> None:
    opt_in, examples, *_ = readme_testing_examples()
    (tmp_path / "conftest.py").write_text(opt_in, encoding="utf-8")
    (tmp_path / "test_bot.py").write_text(examples, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\nasyncio_mode = "auto"\n')

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert opt_in == 'pytest_plugins = ["sandbox.testkit"]\n'
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


def test_importing_the_testkit_loads_no_gradio_or_model() -> None:
    code = (
        "import sys, sandbox.testkit; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'gradio', 'llama_cpp'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"


async def test_twenty_users_sending_the_same_msgseq_and_random_in_one_second_each_get_an_answer(
    sandbox: InProcessSandbox,
) -> None:
    # MsgKey is {MsgSeq}_{MsgRandom}_{MsgTime}: the same for all twenty, unique only per conversation.
    users = [f"user{number:02d}" for number in range(20)]
    sent = []
    for user in users:
        sandbox.add_user(user)
        request = SendC2CRequest(
            from_account=user,
            to_account=ROBOT,
            msg_seq=1,
            msg_random=12345,
            msg_time_stamp=1700000000,
            msg_body=text_body(f"hi from {user}"),
        )
        answer = sandbox.backend.execute(
            RestCommand.SEND_C2C, request.to_wire(), operator=user, platform="Web"
        )
        assert answer["ErrorCode"] == 0, answer
        sent.append(sandbox.state.c2c_message(user, ROBOT, answer["MsgKey"]))

    await sandbox.settle()

    assert {record.msg_key for record in sent if record} == {"1_12345_1700000000"}
    for user, record in zip(users, sent, strict=True):
        assert record is not None
        replies = [body_text(reply.body) for reply in sandbox.c2c_replies(record)]
        assert replies == [f"echo: hi from {user}"]
