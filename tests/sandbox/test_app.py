"""The REST edge: URL checks, UserSig codes, body parsing, envelope, traffic log."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from botkit.usersig import generate_usersig
from sandbox.app import backend_of, create_backend_app
from sandbox.errorcodes import ERROR_INFO
from sandbox.state import SandboxState
from tests.support import ADMIN, KEY, SDKAPPID

from .conftest import Harness

ROBOTS = "openim_robot_http_svc/get_all_robots"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ({"sdkappid": None}, 60012),
        ({"sdkappid": ""}, 60012),
        ({"sdkappid": "abc"}, 60006),
        ({"sdkappid": "1400000001"}, 70020),
        ({"contenttype": None}, 60002),
        ({"contenttype": "JSON"}, 60002),
        ({"identifier": None}, 60004),
        ({"usersig": None}, 60005),
        ({"usersig": ""}, 60005),
    ],
)
async def test_bad_url_answers_the_documented_code(
    harness: Harness, url: dict[str, str | None], code: int
) -> None:
    answer = await harness.rest(ROBOTS, {}, **url)
    assert (answer["ActionStatus"], answer["ErrorCode"]) == ("FAIL", code)


async def test_right_usersig_is_accepted(harness: Harness) -> None:
    answer = await harness.rest(ROBOTS, {})
    assert answer["ErrorCode"] == 0
    assert answer["Robot_Account"] == ["@RBT#001"]


@pytest.mark.parametrize(
    ("sdkappid", "key", "signed_for", "code"),
    [
        (SDKAPPID, "another-apps-secret-key", ADMIN, 70009),
        (SDKAPPID, KEY, "alice", 70013),
        (1400000099, KEY, ADMIN, 70014),
    ],
)
async def test_usersig_mismatch_codes(
    harness: Harness, sdkappid: int, key: str, signed_for: str, code: int
) -> None:
    usersig = generate_usersig(sdkappid, SecretStr(key), signed_for, 86400)
    answer = await harness.rest(ROBOTS, {}, usersig=usersig)
    assert answer["ErrorCode"] == code
    assert answer["ErrorInfo"] == ERROR_INFO[code]


async def test_wrong_key_answers_tencents_text(harness: Harness) -> None:
    usersig = generate_usersig(SDKAPPID, SecretStr("another-apps-secret-key"), ADMIN, 86400)
    answer = await harness.rest(ROBOTS, {}, usersig=usersig)
    assert answer["ErrorInfo"].startswith("UserSig verification Failed. The UserSig in use maybe generated")


async def test_expired_usersig_answers_70001(harness: Harness) -> None:
    usersig = generate_usersig(SDKAPPID, SecretStr(KEY), ADMIN, 1)
    harness.clock.advance(3600)
    answer = await harness.rest(ROBOTS, {}, usersig=usersig)
    assert answer["ErrorCode"] == 70001


async def test_malformed_usersig_answers_70003(harness: Harness) -> None:
    answer = await harness.rest(ROBOTS, {}, usersig="not-a-usersig")
    assert answer["ErrorCode"] == 70003
    assert (
        answer["ErrorInfo"]
        == "The UserSig in use is illegal. Please regenerate UserSig through official API."
    )


async def test_identifier_must_be_the_admin(harness: Harness) -> None:
    usersig = generate_usersig(SDKAPPID, SecretStr(KEY), "alice", 86400)
    answer = await harness.rest(ROBOTS, {}, identifier="alice", usersig=usersig)
    assert answer["ErrorCode"] == 60010


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'"text"', b"\xff\xfe", b"{'single': 1}"])
async def test_unparsable_body_answers_90001(harness: Harness, raw: bytes) -> None:
    answer = await harness.rest(ROBOTS, raw=raw)
    assert answer["ErrorCode"] == 90001
    assert answer["ErrorInfo"] == "Fail to Parse json data of body, Please check it"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Content-Type": "text/plain"}, {"Content-Type": "application/json;charset=utf-8"}],
)
async def test_body_is_json_whatever_the_content_type(harness: Harness, headers: dict[str, str]) -> None:
    answer = await harness.rest(
        "im_open_login_svc/account_import", raw=b'{"UserID":"carol"}', headers=headers
    )
    assert answer["ErrorCode"] == 0
    assert harness.backend.state.account_exists("carol")


async def test_unknown_command_answers_60002(harness: Harness) -> None:
    answer = await harness.rest("openim/no_such_command", {})
    assert answer["ErrorCode"] == 60002


async def test_url_checks_come_before_the_command(harness: Harness) -> None:
    answer = await harness.rest("openim/no_such_command", {}, usersig="bad")
    assert answer["ErrorCode"] == 70003


async def test_get_is_not_a_rest_call(harness: Harness) -> None:
    response = await harness.client.get(f"/v4/{ROBOTS}", params=harness.url_params())
    assert response.status_code == 405


async def test_rest_traffic_is_logged_with_usersig_masked(harness: Harness) -> None:
    await harness.rest("im_open_login_svc/account_import", {"UserID": "carol"})
    await harness.rest("openim/no_such_command", {})
    entries = harness.backend.traffic.list(kind="rest")
    assert [entry.error for entry in entries] == [
        "ErrorCode 60002: unknown command 'openim/no_such_command'.",
        None,
    ]
    assert entries[1].request == {"UserID": "carol"}
    assert entries[1].response["ActionStatus"] == "OK"
    assert all("usersig=***" in entry.url and harness.usersig not in entry.url for entry in entries)


def test_app_needs_a_configured_state() -> None:
    with pytest.raises(ValueError, match="set_config"):
        create_backend_app(SandboxState())


def test_backend_of_refuses_an_app_the_sandbox_did_not_make() -> None:
    with pytest.raises(TypeError, match="not made by create_backend_app"):
        backend_of(Starlette())
