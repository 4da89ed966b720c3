"""The chat UI without a browser: what `uiviews` renders and what `UiActions` does to a live sandbox."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from botkit.callbacks import ACK_BODY
from botkit.elements import text_body
from botkit.errorcodes import ErrorCode
from botkit.restmodels import Envelope
from sandbox.app import backend_of, create_backend_app
from sandbox.faults import Faults
from sandbox.models import Group, GroupRecord
from sandbox.seed import seed_demo
from sandbox.state import SandboxState
from sandbox.traffic import TrafficLog
from sandbox.uiactions import Choices, Keep, UiActions
from sandbox.uifates import GAVE_UP_SECONDS, SILENT_SECONDS, Fate
from sandbox.uiviews import (
    Target,
    chat_digest,
    chat_messages,
    chat_targets,
    clock_time,
    config_update,
    entry_detail,
    faults_summary,
    mention,
    new_group_body,
    send_request,
    traffic_rows,
    users,
)
from tests.support import ROBOT, TOKEN

from .conftest import Harness, text_msg

C2C = Target("c2c", ROBOT).value


def add_group(state: SandboxState, group_id: str, members: list[str], name: str = "team") -> str:
    state.create_group(Group(group_id, "Public", name, members[0]), members)
    return Target("group", group_id).value


# -- views ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "target"),
    [
        ("c2c:@RBT#001", Target("c2c", "@RBT#001")),
        ("group:@TGS#2AB:C", Target("group", "@TGS#2AB:C")),
        ("group:", None),
        ("robot:@RBT#001", None),
        ("", None),
        (None, None),
    ],
)
def test_target_values_parse_back(value: str | None, target: Target | None) -> None:
    assert Target.parse(value) == target
    if target is not None:
        assert Target.parse(target.value) == target


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("hello", "@@RBT#001 hello"),
        ("  hello  ", "@@RBT#001 hello"),
        ("@@RBT#001 hello", "@@RBT#001 hello"),
        ("@RBT#001 what is a UserSig?", "@@RBT#001 what is a UserSig?"),
        ("@RBT#001   hello", "@@RBT#001 hello"),
        ("@@RBT#001", "@@RBT#001"),
        ("@RBT#001", "@@RBT#001"),
        ("@@RBT#0011 hello", "@@RBT#001 @@RBT#0011 hello"),
        ("hi @@RBT#001", "@@RBT#001 hi @@RBT#001"),
    ],
)
def test_group_text_starts_with_the_robot_mention(text: str, sent: str) -> None:
    assert mention(text, ROBOT) == sent


def _said(sender: str, text: str, at: int = 1700000000) -> GroupRecord:
    return GroupRecord("g1", 1, sender, at, text_body(text))


def test_chat_puts_me_on_the_right_and_names_every_sender_with_the_time() -> None:
    records = [_said("alice", "hi"), _said(ROBOT, "echo: hi", 1700000001), _said("bob", "yo")]
    at, later = clock_time(1700000000), clock_time(1700000001)
    assert chat_messages(records, "alice") == [
        {"role": "user", "content": f"**alice** · {at}\nhi"},
        {"role": "assistant", "content": f"**{ROBOT}** · {later}\necho: hi"},
        {"role": "assistant", "content": f"**bob** · {at}\nyo"},
    ]


def test_a_fate_puts_its_notice_under_the_message_and_typing_after_all() -> None:
    records = [_said("alice", "hi"), _said("alice", "there")]
    told = [Fate("⚠️ callback dropped"), Fate(typing=True)]
    turns = chat_messages(records, "alice", told, typing=ROBOT)
    assert turns[0]["content"].endswith("hi\n\n*⚠️ callback dropped*")
    assert turns[1]["content"].endswith("there")
    assert turns[2] == {"role": "assistant", "content": f"**{ROBOT}**\n*typing…*"}
    assert len(chat_messages(records, "alice", [Fate(), Fate()], typing=ROBOT)) == 2


def test_identities_are_users_without_the_admin_or_robots(state: SandboxState) -> None:
    assert users(state) == ["alice", "bob"]


def test_targets_are_robots_then_the_users_groups_with_a_robot(state: SandboxState) -> None:
    with_robot = add_group(state, "g1", ["alice", ROBOT], name="with robot")
    add_group(state, "g2", ["alice", "bob"], name="no robot")
    add_group(state, "g3", ["bob", ROBOT], name="not alice's")
    assert chat_targets(state, "alice") == [(f"{ROBOT} (1:1)", C2C), ("with robot (group)", with_robot)]


def test_a_group_message_names_the_groups_robot(state: SandboxState) -> None:
    group = Target.parse(add_group(state, "g1", ["alice", ROBOT]))
    assert group is not None
    request = send_request(state, "alice", group, "hi")
    assert (request.kind, request.to, request.text, request.at, request.at_all) == (
        "group",
        "g1",
        f"@{ROBOT} hi",
        [ROBOT],
        False,
    )
    direct = send_request(state, "alice", Target("c2c", ROBOT), "hi")
    assert (direct.kind, direct.to, direct.text, direct.at) == ("c2c", ROBOT, "hi", [])
    lonely = Target.parse(add_group(state, "g2", ["alice", "bob"]))
    assert lonely is not None
    with pytest.raises(ValueError, match="no robot"):
        send_request(state, "alice", lonely, "hi")


def _log() -> TrafficLog:
    log = TrafficLog(clock=lambda: 1700000000.0)
    log.record(
        "callback",
        method="POST",
        url="http://bot/im?CallbackCommand=Bot.OnC2CMessage",
        request={"CallbackCommand": "Bot.OnC2CMessage"},
        response=ACK_BODY,
        status=200,
        latency_ms=12.345,
    )
    log.record(
        "rest",
        method="POST",
        url="http://chat/v4/openim/sendmsg?usersig=secret&random=1",
        request={},
        response=Envelope.error(ErrorCode.INTERNAL_TIMEOUT, "timeout").to_wire(),
        status=200,
        latency_ms=3.0,
        error="ErrorCode 60008: timeout",
    )
    log.record(
        "callback", method="POST", url="", request={"CallbackCommand": "Bot.OnGroupMessage"}, error="dropped"
    )
    return log


def test_traffic_rows_show_kind_command_status_latency_and_result() -> None:
    rows = traffic_rows(_log().list())
    assert [row[:1] + row[2:] for row in rows] == [
        [3, "callback", "Bot.OnGroupMessage", "—", 0.0, "dropped"],
        [2, "rest", "openim/sendmsg", 200, 3.0, "ErrorCode 60008: timeout"],
        [1, "callback", "Bot.OnC2CMessage", 200, 12.3, "OK"],
    ]
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", row[1]) for row in rows)


@pytest.mark.parametrize(("entry_id", "shown"), [(None, 3), (2, 2), (1, 1), (9, 3)])
def test_entry_detail_is_the_chosen_or_newest_raw_entry(entry_id: int | None, shown: int | None) -> None:
    detail = entry_detail(_log().list(), entry_id)
    assert detail.get("id") == shown
    assert entry_detail([], entry_id) == {}
    if shown == 2:
        assert detail["url"] == "http://chat/v4/openim/sendmsg?usersig=***&random=1"
        assert detail["response"]["ErrorCode"] == 60008


def test_entry_detail_adds_the_times_as_clock_times() -> None:
    log = TrafficLog(clock=lambda: 1700000000.25)
    body = {"MsgTime": 1700000000, "EventTime": 1700000000123, "Text": "hi"}
    url = "http://bot/im?SdkAppid=1&RequestTime=1700000000"
    entry = log.record("callback", method="POST", url=url, request=body)
    readable = entry_detail([entry], None)["readable"]
    day = time.strftime("%Y-%m-%d", time.localtime(1700000000))
    assert readable == {
        "time": f"{day} {clock_time(1700000000)}.250",
        "RequestTime": clock_time(1700000000),
        "MsgTime": clock_time(1700000000),
        "EventTime": f"{clock_time(1700000000)}.123",
    }


@pytest.mark.parametrize(
    ("faults", "retries", "says"),
    [
        (Faults(), 0, ["No faults"]),
        (Faults(drop_rate=1.0), 0, ["all robot callbacks are **dropped**"]),
        (Faults(delay_callbacks_seconds=2.5, duplicate_rate=1.0), 0, ["delayed 2.5 s", "sent twice"]),
        (Faults(drop_rate=0.1, reorder_rate=0.3), 0, ["10% of robot", "30% of callbacks are **overtaken"]),
        (Faults(delay_callbacks_seconds=2.5, delay_rate=0), 0, ["No faults"]),
        (Faults(), 2, ["retried 2 times"]),
        (Faults(), 1, ["retried once"]),
        (Faults(rest_failure_rate=0.25, rest_failure_code=70001), 0, ["25%", "ErrorCode 70001"]),
    ],
)
def test_faults_summary_names_each_active_fault(faults: Faults, retries: int, says: list[str]) -> None:
    summary = faults_summary(faults, retries)
    assert all(words in summary for words in says)


@pytest.mark.parametrize(
    ("url", "auth_on", "token", "changes"),
    [
        ("http://bot/im", True, "", {"webhook_url": "http://bot/im"}),
        ("  ", True, "t", {"webhook_url": None, "callback_token": "t"}),
        ("http://bot/im", False, "ignored", {"webhook_url": "http://bot/im", "callback_token": ""}),
    ],
)
def test_settings_form_becomes_a_config_update(
    url: str, auth_on: bool, token: str, changes: dict[str, Any]
) -> None:
    update = config_update(url, auth_on, token)
    assert update.model_dump(include=update.model_fields_set) == changes


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Robot fans", "Robot fans"), ("", f"alice and {ROBOT}"), ("x" * 40, "x" * 30), ("群" * 11, "群" * 10)],
)
def test_new_groups_have_the_owner_and_robot_and_a_short_name(name: str, expected: str) -> None:
    body = new_group_body("alice", ROBOT, name)
    assert body["Name"] == expected
    assert (body["Owner_Account"], body["MemberList"]) == ("alice", [{"Member_Account": ROBOT}])


# -- actions on a live sandbox -------------------------------------------------------------------


async def test_a_message_to_a_robot_fires_the_callback_like_rest(harness: Harness) -> None:
    actions = UiActions(harness.backend)
    assert await actions.send("alice", C2C, "hello") == ("", "")
    [callback] = await harness.sent_callbacks()
    assert (callback["CallbackCommand"], callback["From_Account"], callback["To_Account"]) == (
        "Bot.OnC2CMessage",
        "alice",
        ROBOT,
    )
    assert "OptPlatform=Web" in str(harness.recorder.requests[0].url)
    turns, shown = actions.chat("alice", C2C, "")
    at = clock_time(harness.clock())
    assert turns == [
        {"role": "user", "content": f"**alice** · {at}\nhello"},
        {"role": "assistant", "content": f"**{ROBOT}**\n*typing…*"},
    ]
    assert shown == chat_digest(turns)
    assert actions.chat("alice", C2C, shown) == (Keep.SHOWN, Keep.SHOWN)
    assert actions.chat("alice", C2C, chat_digest([]))[0] == turns


def _turns(actions: UiActions, target: str) -> list[dict[str, str]]:
    turns, _ = actions.chat("alice", target, "")
    assert isinstance(turns, list)
    return turns


async def test_a_group_message_mentions_the_robot_and_fires_the_group_callback(harness: Harness) -> None:
    actions = UiActions(harness.backend)
    group = add_group(harness.backend.state, "team", ["alice", ROBOT])
    box, status = await actions.send("alice", group, f"{ROBOT} hi all")
    assert box == "" and f"starts @{ROBOT}" in status and "GroupAtInfo" in status
    [callback] = await harness.sent_callbacks()
    assert callback["CallbackCommand"] == "Bot.OnGroupMessage"
    assert callback["AtRobots_Account"] == [ROBOT]
    assert callback["MsgBody"][0]["MsgContent"]["Text"] == f"@{ROBOT} hi all"
    turns = _turns(actions, group)
    assert turns[0]["content"].endswith(f"\n@{ROBOT} hi all")


async def _fate_of_hello(harness: Harness, actions: UiActions) -> str:
    await actions.send("alice", C2C, "hello")
    await harness.backend.dispatcher.drain()
    turns = _turns(actions, C2C)
    return " | ".join(turn["content"] for turn in turns)


async def _timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("slow bot", request=request)


async def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


async def _server_error(request: httpx.Request) -> httpx.Response:
    return httpx.Response(500, text="boom")


@pytest.mark.parametrize(
    ("reply", "notice"),
    [
        (_timeout, "⚠️ callback timed out after 2 s"),
        (_refused, "⚠️ bot unreachable at http://bot.test/im: unreachable (ConnectError)"),
        (_server_error, "⚠️ the bot's answer to the callback failed: HTTP 500"),
    ],
)
async def test_a_failed_callback_says_so_under_the_message(harness: Harness, reply: Any, notice: str) -> None:
    harness.recorder.reply = reply
    shown = await _fate_of_hello(harness, UiActions(harness.backend))
    assert notice in shown and "typing" not in shown


async def test_a_dropped_callback_says_so_under_the_message(harness: Harness) -> None:
    harness.backend.faults = Faults(drop_rate=1.0)
    actions = UiActions(harness.backend)
    shown = await _fate_of_hello(harness, actions)
    assert "⚠️ callback dropped (fault injection): the bot never got this message" in shown
    assert actions.banner().endswith(
        "⚠️ **Faults are on.** Active faults: all robot callbacks are **dropped**."
    )


async def test_an_acked_message_types_until_the_reply_or_the_bot_gives_up(harness: Harness) -> None:
    actions = UiActions(harness.backend)
    assert "typing…" in await _fate_of_hello(harness, actions)
    reply = {"From_Account": ROBOT, "To_Account": "alice", "MsgRandom": 9, "MsgBody": text_msg("echo: hello")}
    harness.backend.faults = Faults(rest_failure_rate=1.0, rest_failure_code=60008)
    for _ in range(2):
        assert (await harness.rest("openim/sendmsg", reply))["ErrorCode"] == 60008
    turns = _turns(actions, C2C)
    assert "the bot is retrying: 2 failed REST calls so far (last: ErrorCode 60008" in turns[0]["content"]
    assert turns[-1]["content"].endswith("*typing…*")
    harness.clock.advance(GAVE_UP_SECONDS)
    turns = _turns(actions, C2C)
    assert "⚠️ the bot gave up after 2 failed REST calls (last: ErrorCode 60008" in turns[0]["content"]
    assert not turns[-1]["content"].endswith("*typing…*")
    harness.backend.faults = Faults()
    await harness.ok("openim/sendmsg", reply)
    turns = _turns(actions, C2C)
    assert [turn["content"].split("\n", 1)[1] for turn in turns] == ["hello", "echo: hello"]


async def test_a_bot_that_stays_silent_stops_typing_and_points_at_its_log(harness: Harness) -> None:
    actions = UiActions(harness.backend)
    assert "typing…" in await _fate_of_hello(harness, actions)
    harness.clock.advance(SILENT_SECONDS)
    turns = _turns(actions, C2C)
    notice = f"*⚠️ {ROBOT} took this but has not answered in 90 s: see the Bot tab*"
    assert turns[-1]["content"].endswith(notice)


def test_the_banner_names_the_bot_state_and_nothing_else_without_faults(harness: Harness) -> None:
    assert UiActions(harness.backend).banner() == (
        "Bot: not started by the sandbox; callbacks go to http://bot.test/im."
    )


@pytest.mark.parametrize(
    ("user", "target", "text", "status"),
    [
        (None, C2C, "hi", "Pick who you are"),
        ("alice", None, "hi", "Pick who you are"),
        ("alice", C2C, "   ", ""),
        ("alice", "group:bobs", "hi", "ErrorCode 10007"),
    ],
)
async def test_sends_that_cannot_go_keep_the_text(
    harness: Harness, user: str | None, target: str | None, text: str, status: str
) -> None:
    add_group(harness.backend.state, "bobs", ["bob", ROBOT])
    box, said = await UiActions(harness.backend).send(user, target, text)
    assert box is Keep.SHOWN and status in said
    assert await harness.sent_callbacks() == []


async def test_the_timer_repaints_the_inspector_only_when_traffic_changed(harness: Harness) -> None:
    actions = UiActions(harness.backend)
    await actions.send("alice", C2C, "hello")
    await harness.backend.dispatcher.drain()
    _, shown, rows, detail, seen, banner, log = actions.tick("alice", C2C, "", -1, None, "all")
    assert [row[3] for row in rows] == ["Bot.OnC2CMessage"]
    assert detail["request"]["From_Account"] == "alice"
    assert actions.tick("alice", C2C, shown, seen, None, "all") == (*(Keep.SHOWN,) * 5, banner, log)
    assert actions.inspector(None, "rest")[0] == []


async def test_new_users_and_groups_become_the_selection(harness: Harness) -> None:
    actions = UiActions(harness.backend)
    picked, box, status = await actions.create_user(" carol ")
    assert picked == Choices([("alice", "alice"), ("bob", "bob"), ("carol", "carol")], "carol")
    assert (box, status) == ("", "Created user carol.")
    assert (await actions.create_user("@RBT#9"))[:2] == (Keep.SHOWN, Keep.SHOWN)
    chosen, box, status = await actions.create_group("carol", C2C, "Robot fans")
    assert isinstance(chosen, Choices)
    group = Target.parse(chosen.value)
    assert group is not None and group.kind == "group"
    assert harness.backend.state.members(group.peer) == ["carol", ROBOT]
    assert [label for label, _ in chosen.options] == [f"{ROBOT} (1:1)", "Robot fans (group)"]


async def test_a_new_user_joins_the_demo_group_so_it_stays_in_their_chats(harness: Harness) -> None:
    seed_demo(harness.backend.state, [ROBOT])
    actions = UiActions(harness.backend)

    *_, status = await actions.create_user("dave")

    assert status == "Created user dave, a member of Demo group."
    assert "Demo group (group)" in [label for label, _ in actions.targets("dave", None).options]


async def test_settings_save_and_refuse(harness: Harness) -> None:
    actions = UiActions(harness.backend)
    *_, status = await actions.save_settings("http://127.0.0.1:9/im", False, "")
    config = harness.backend.state.config
    assert (status, config.webhook_url, config.callback_token) == ("Saved.", "http://127.0.0.1:9/im", None)
    *_, status = await actions.save_settings("http://127.0.0.1:9/im", True, "")
    assert "Enter a callback token" in status
    *_, status = await actions.save_settings("bot.test/im", True, TOKEN)
    assert "webhook_url" in status and harness.backend.state.config.webhook_url == "http://127.0.0.1:9/im"
    url, auth_on, token, _, robots, status = await actions.create_robot("@RBT#002", "Two")
    assert (url, auth_on, token, robots) == (
        "http://127.0.0.1:9/im",
        False,
        "",
        [[ROBOT, ""], ["@RBT#002", "Two"]],
    )


async def test_faults_apply_or_are_refused_whole(harness: Harness) -> None:
    actions = UiActions(harness.backend)
    summary = await actions.apply_faults(1.5, 0.5, 1.0, 0.1, 0.2, 2, 0.5, 60008)
    assert "dropped" in summary and "retried 2 times" in summary
    assert harness.backend.faults == Faults(
        delay_callbacks_seconds=1.5,
        delay_rate=0.5,
        drop_rate=1.0,
        duplicate_rate=0.1,
        reorder_rate=0.2,
        rest_failure_rate=0.5,
        rest_failure_code=60008,
    )
    assert actions.faults() == (1.5, 0.5, 1.0, 0.1, 0.2, 2, 0.5, 60008, summary)
    refused = await actions.apply_faults(0, 1, 0, 0, 0, 0, 2.0, 60008)
    assert "rest_failure_rate" in refused
    assert harness.backend.faults.drop_rate == 1.0 and harness.backend.state.config.callback_retries == 2


def test_only_the_ui_module_imports_gradio() -> None:
    code = "import sys, sandbox.app, sandbox.uiactions; print('gradio' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


async def test_the_ui_mounts_at_the_root_without_hiding_the_apis(state: SandboxState) -> None:
    """Built inside the running loop: outside one, Gradio leaks an event loop per asyncio lock."""
    pytest.importorskip("gradio", reason="the UI needs gradio: pip install 'botkit[sandbox]'")
    from sandbox.ui import mount_ui

    app = create_backend_app(state)
    mount_ui(app, backend_of(app))
    transport = httpx.ASGITransport(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client,
    ):
        page = await client.get("/")
        config = await client.get("/sandbox/api/config")
        rest = await client.post("/v4/openim/sendmsg", content=b"{}")
    assert page.status_code == 200 and "botkit sandbox" in page.text
    assert config.json()["robots"] == [ROBOT]
    assert rest.json()["ErrorCode"] == 60012
