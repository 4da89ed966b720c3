"""Account and robot commands, through the REST edge."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import ROBOT

from .conftest import Harness, text_msg

IMPORT = "im_open_login_svc/account_import"
MULTI = "im_open_login_svc/multiaccount_import"
CHECK = "im_open_login_svc/account_check"
CREATE_ROBOT = "openim_robot_http_svc/create_robot"
DELETE_ROBOT = "openim_robot_http_svc/delete_robot"
ROBOTS = "openim_robot_http_svc/get_all_robots"


async def statuses(harness: Harness, *user_ids: str) -> dict[str, str]:
    answer = await harness.ok(CHECK, {"CheckItem": [{"UserID": user_id} for user_id in user_ids]})
    return {item["UserID"]: item["AccountStatus"] for item in answer["ResultItem"]}


@pytest.mark.parametrize("field", ["UserID", "Identifier"])
async def test_account_import_accepts_both_field_names(harness: Harness, field: str) -> None:
    await harness.ok(IMPORT, {field: "carol", "Nick": "Carol"})
    assert await statuses(harness, "carol", "dave") == {"carol": "Imported", "dave": "NotImported"}
    account = harness.backend.state.account("carol")
    assert account is not None and account.nick == "Carol"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"UserID": ""},
        {"UserID": 7},
        {"UserID": "x" * 33},
        {"UserID": "@RBT#sneaky"},
        {"UserID": "c", "Nick": 1},
    ],
)
async def test_account_import_rejects_bad_ids_with_70402(harness: Harness, body: dict[str, Any]) -> None:
    assert (await harness.rest(IMPORT, body))["ErrorCode"] == 70402


async def test_account_import_is_idempotent(harness: Harness) -> None:
    await harness.ok(IMPORT, {"UserID": "carol"})
    await harness.ok(IMPORT, {"UserID": "carol"})
    assert await statuses(harness, "carol") == {"carol": "Imported"}


@pytest.mark.parametrize(
    "body",
    [
        {"Accounts": ["carol", "dave", "@RBT#no", "y" * 40]},
        {"AccountList": [{"UserID": "carol"}, {"UserID": "dave", "Nick": "D"}, {"UserID": "@RBT#no"}, {}]},
    ],
)
async def test_multiaccount_import_both_forms(harness: Harness, body: dict[str, Any]) -> None:
    answer = await harness.ok(MULTI, body)
    assert len(answer["FailAccounts"]) == 2
    assert await statuses(harness, "carol", "dave") == {"carol": "Imported", "dave": "Imported"}


@pytest.mark.parametrize("body", [{}, {"Accounts": []}, {"Accounts": [f"u{i}" for i in range(101)]}])
async def test_multiaccount_import_rejects_bad_lists(harness: Harness, body: dict[str, Any]) -> None:
    assert (await harness.rest(MULTI, body))["ErrorCode"] == 70402


async def test_account_check_answers_tencents_item_shape(harness: Harness) -> None:
    answer = await harness.ok(CHECK, {"CheckItem": [{"UserID": "alice"}]})
    assert answer["ResultItem"] == [
        {"UserID": "alice", "ResultCode": 0, "ResultInfo": "", "AccountStatus": "Imported"}
    ]


async def test_create_robot_lists_it_and_is_idempotent(harness: Harness) -> None:
    await harness.ok(CREATE_ROBOT, {"UserID": "@RBT#helper", "Nick": "Helper"})
    await harness.ok(CREATE_ROBOT, {"UserID": "@RBT#helper"})
    assert (await harness.ok(ROBOTS, {}))["Robot_Account"] == [ROBOT, "@RBT#helper"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"UserID": "helper"},
        {"UserID": "@RBT#"},
        {"UserID": "@RBT#" + "x" * 28},
        {"UserID": "@RBT#ok", "Nick": 3},
        {"UserID": "@RBT#ok", "SelfSignature": "s" * 501},
    ],
)
async def test_create_robot_rejects_bad_parameters_with_10004(harness: Harness, body: dict[str, Any]) -> None:
    assert (await harness.rest(CREATE_ROBOT, body))["ErrorCode"] == 10004


async def test_robot_ids_up_to_32_bytes_are_fine(harness: Harness) -> None:
    await harness.ok(CREATE_ROBOT, {"UserID": "@RBT#" + "x" * 27})


async def test_twenty_first_robot_answers_10008(harness: Harness) -> None:
    for index in range(2, 21):
        await harness.ok(CREATE_ROBOT, {"UserID": f"@RBT#{index:03}"})
    assert (await harness.rest(CREATE_ROBOT, {"UserID": "@RBT#021"}))["ErrorCode"] == 10008
    await harness.ok(CREATE_ROBOT, {"UserID": "@RBT#020"})


async def test_deleted_robot_is_gone_and_its_id_stays_taken(harness: Harness) -> None:
    await harness.ok(DELETE_ROBOT, {"Robot_Account": ROBOT})
    assert (await harness.ok(ROBOTS, {}))["Robot_Account"] == []
    assert await statuses(harness, ROBOT) == {ROBOT: "NotImported"}
    assert (await harness.rest(CREATE_ROBOT, {"UserID": ROBOT}))["ErrorCode"] == 10004
    message = {"To_Account": ROBOT, "MsgRandom": 1, "MsgBody": text_msg("hi")}
    assert (await harness.rest("openim/sendmsg", message))["ErrorCode"] == 90012


@pytest.mark.parametrize("body", [{}, {"Robot_Account": "@RBT#ghost"}, {"Robot_Account": "alice"}])
async def test_delete_robot_needs_a_live_robot(harness: Harness, body: dict[str, Any]) -> None:
    assert (await harness.rest(DELETE_ROBOT, body))["ErrorCode"] == 10004
