"""The /sandbox/api control API: config, traffic, UI sends, admin commands, views."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import ADMIN, ROBOT, SDKAPPID, TOKEN

from .conftest import WEBHOOK, Harness, text_msg

API = "/sandbox/api"


async def get(harness: Harness, path: str, **params: Any) -> Any:
    response = await harness.client.get(API + path, params=params)
    assert response.status_code == 200
    return response.json()


async def test_config_view_lists_robots_and_hides_the_token(harness: Harness) -> None:
    response = await harness.client.get(API + "/config")
    assert response.json() == {
        "sdkappid": SDKAPPID,
        "admin": ADMIN,
        "webhook_url": WEBHOOK,
        "callback_token_set": True,
        "callback_timeout": 2.0,
        "callback_retries": 0,
        "robots": [ROBOT],
    }
    assert TOKEN not in response.text


async def test_config_update_changes_only_the_given_fields(harness: Harness) -> None:
    update = {"webhook_url": "http://127.0.0.1:9000/im", "callback_token": ""}
    view = (await harness.client.put(API + "/config", json=update)).json()
    assert (view["webhook_url"], view["callback_token_set"], view["callback_timeout"]) == (
        "http://127.0.0.1:9000/im",
        False,
        2.0,
    )
    config = harness.backend.state.config
    assert (config.webhook_url, config.callback_token) == ("http://127.0.0.1:9000/im", None)
    view = (await harness.client.put(API + "/config", json={"callback_token": "new-token"})).json()
    assert view["callback_token_set"] and view["webhook_url"] == "http://127.0.0.1:9000/im"


@pytest.mark.parametrize(
    "update",
    [{"webhook_url": "bot.test/im"}, {"callback_retries": -1}, {"sdkappid": 5}, {"callback_timeout": 0}],
)
async def test_bad_config_updates_are_refused(harness: Harness, update: dict[str, Any]) -> None:
    assert (await harness.client.put(API + "/config", json=update)).status_code == 422
    assert harness.backend.state.config.webhook_url == WEBHOOK


async def test_traffic_is_listed_newest_first_and_can_be_cleared(harness: Harness) -> None:
    await harness.ok("im_open_login_svc/account_import", {"UserID": "carol"})
    await harness.ok(
        "openim/sendmsg",
        {"From_Account": "alice", "To_Account": ROBOT, "MsgRandom": 1, "MsgBody": text_msg("x")},
    )
    await harness.backend.dispatcher.drain()
    listing = await get(harness, "/traffic")
    assert listing["version"] == 3
    assert [entry["kind"] for entry in listing["entries"]] == ["callback", "rest", "rest"]
    only_rest = await get(harness, "/traffic", kind="rest", limit=1)
    [newest_rest] = only_rest["entries"]
    assert newest_rest["request"]["To_Account"] == ROBOT
    await harness.client.delete(API + "/traffic")
    assert (await get(harness, "/traffic"))["entries"] == []


async def test_ui_send_answers_like_rest(harness: Harness) -> None:
    request = {"kind": "c2c", "from_account": "alice", "to": "ghost", "text": "hi"}
    answer = (await harness.client.post(API + "/send", json=request)).json()
    assert (answer["ActionStatus"], answer["ErrorCode"]) == ("FAIL", 90012)
    request["to"] = ROBOT
    answer = (await harness.client.post(API + "/send", json=request)).json()
    assert answer["ErrorCode"] == 0 and answer["MsgKey"]
    assert [body["From_Account"] for body in await harness.sent_callbacks()] == ["alice"]


async def test_admin_commands_run_without_a_usersig(harness: Harness) -> None:
    response = await harness.client.post(
        API + "/rest/im_open_login_svc/account_import", json={"UserID": "carol"}
    )
    assert response.json()["ErrorCode"] == 0
    assert harness.backend.state.account_exists("carol")


async def test_views_of_accounts_groups_history_and_conversations(harness: Harness) -> None:
    create = {
        "Type": "Public",
        "Name": "team",
        "GroupId": "team",
        "MemberList": [{"Member_Account": "alice"}],
    }
    await harness.ok("group_open_http_svc/create_group", create)
    await harness.ok(
        "group_open_http_svc/send_group_msg",
        {"GroupId": "team", "From_Account": "alice", "Random": 1, "MsgBody": text_msg("g1")},
    )
    await harness.ok(
        "openim/sendmsg",
        {"From_Account": "bob", "To_Account": "alice", "MsgRandom": 1, "MsgBody": text_msg("c1")},
    )
    accounts = await get(harness, "/accounts")
    assert {account["user_id"]: account["is_robot"] for account in accounts} == {
        ROBOT: True,
        ADMIN: False,
        "alice": False,
        "bob": False,
    }
    assert await get(harness, "/groups") == [
        {"group_id": "team", "type": "Public", "name": "team", "owner": "", "members": ["alice"]}
    ]
    [c2c] = await get(harness, "/history/c2c", a="alice", b="bob")
    assert (c2c["From_Account"], c2c["Text"], c2c["MsgBody"]) == ("bob", "c1", text_msg("c1"))
    [group] = await get(harness, "/history/group", group_id="team")
    assert (group["MsgSeq"], group["Text"]) == (1, "g1")
    conversations = await get(harness, "/conversations", user="alice")
    assert sorted((item["kind"], item["peer"], item["last_text"]) for item in conversations) == [
        ("c2c", "bob", "c1"),
        ("group", "team", "g1"),
    ]
