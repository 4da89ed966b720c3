"""ChatClient: URL form, request bodies, results, retries, secrets.

Each unit test scripts Chat's answers with a MockTransport handler (an error code, a malformed
envelope, a timeout, a field the sandbox never sends), on a fake clock; one test sends every
typed request to the in-process sandbox, which checks them as Tencent does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from botkit.config import Settings
from botkit.elements import body_text, text_body
from botkit.errors import ChatAPIError, ChatTransportError
from botkit.restapi import DEFAULT_RATE_LIMIT, MAX_BACKOFF_SECONDS, ChatClient
from botkit.restmodels import MAX_UINT32
from botkit.usersig import UserSigCache, verify_usersig
from sandbox.harness import InProcessSandbox
from tests.support import ADMIN, KEY, ROBOT, SDKAPPID, FakeClock, rest_traffic

API_BASE = "http://chat.test"
OK: dict[str, Any] = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
HELLO = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}]

Answer = dict[str, Any] | httpx.Response | Exception


def fail(code: int, info: str = "scripted failure") -> dict[str, Any]:
    return {"ActionStatus": "FAIL", "ErrorCode": code, "ErrorInfo": info}


class Script:
    """A MockTransport handler: gives the `answers` in order (an OK envelope's extra fields, a
    response, or an exception to raise), then a bare OK; keeps every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: list[Answer] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer: Answer = self.answers.pop(0) if self.answers else {}
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=OK | answer)

    def bodies(self) -> list[Any]:
        return [json.loads(request.content) for request in self.requests]


class CountingUserSigs(UserSigCache):
    """A real cache that also counts how often the client threw its UserSig away."""

    invalidations = 0

    def invalidate(self) -> None:
        self.invalidations += 1
        super().invalidate()


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def clock() -> FakeClock:
    """Time that moves only when the client sleeps."""
    return FakeClock()


@pytest.fixture
def usersigs() -> CountingUserSigs:
    return CountingUserSigs(SDKAPPID, SecretStr(KEY), ADMIN)


@pytest.fixture
async def http(script: Script) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(script)) as client:
        yield client


@pytest.fixture
def client(http: httpx.AsyncClient, clock: FakeClock, usersigs: CountingUserSigs) -> ChatClient:
    counter = itertools.count(1000)
    return ChatClient(
        http,
        api_base=API_BASE,
        sdkappid=SDKAPPID,
        admin=ADMIN,
        usersigs=usersigs,
        random_source=lambda: next(counter),
        jitter=lambda: 0.5,
        clock=clock,
        sleep=clock.sleep,
    )


async def test_url_carries_every_query_param_and_a_valid_admin_usersig(
    client: ChatClient, script: Script
) -> None:
    await client.call("openim/sendmsg", {"To_Account": "alice"})

    (request,) = script.requests
    assert request.method == "POST"
    assert (request.url.scheme, request.url.host, request.url.path) == (
        "http",
        "chat.test",
        "/v4/openim/sendmsg",
    )
    params = dict(request.url.params)
    assert set(params) == {"sdkappid", "identifier", "usersig", "random", "contenttype"}
    assert params["sdkappid"] == str(SDKAPPID)
    assert params["identifier"] == ADMIN
    assert params["contenttype"] == "json"
    assert 0 <= int(params["random"]) <= MAX_UINT32
    claims = verify_usersig(params["usersig"], sdkappid=SDKAPPID, key=SecretStr(KEY), identifier=ADMIN)
    assert claims.identifier == ADMIN
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"To_Account": "alice"}


async def test_random_comes_from_the_injected_source_fresh_per_call(
    client: ChatClient, script: Script
) -> None:
    for _ in range(3):
        await client.call("openim_robot_http_svc/get_all_robots")

    assert [request.url.params["random"] for request in script.requests] == ["1000", "1001", "1002"]


async def test_default_random_is_a_fresh_uint32_per_call(
    http: httpx.AsyncClient, script: Script, usersigs: UserSigCache
) -> None:
    chat = ChatClient(http, api_base=API_BASE, sdkappid=SDKAPPID, admin=ADMIN, usersigs=usersigs)
    for _ in range(5):
        await chat.call("openim_robot_http_svc/get_all_robots")

    randoms = [int(request.url.params["random"]) for request in script.requests]
    assert all(0 <= value <= MAX_UINT32 for value in randoms)
    assert len(set(randoms)) == len(randoms)


@pytest.mark.parametrize("payload", [None, {}])
async def test_empty_payload_is_sent_as_braces(
    client: ChatClient, script: Script, payload: dict[str, Any] | None
) -> None:
    await client.call("openim_robot_http_svc/get_all_robots", payload)

    assert script.requests[0].content == b"{}"


async def test_call_returns_the_whole_answer(client: ChatClient, script: Script) -> None:
    script.answers = [{"Robot_Account": ["@RBT#001"], "RequestId": "r-1"}]

    answer = await client.call("openim_robot_http_svc/get_all_robots")

    assert answer == OK | {"Robot_Account": ["@RBT#001"], "RequestId": "r-1"}


Invoke = Callable[[ChatClient], Awaitable[Any]]
BODY = text_body("hello")

METHOD_CASES: list[tuple[str, Invoke, str, dict[str, Any], dict[str, Any], Callable[[Any], Any], Any]] = [
    (
        "send_c2c full",
        lambda c: c.send_c2c(
            "@RBT#001",
            "alice",
            BODY,
            msg_random=7,
            msg_seq=3,
            sync_other_machine=1,
            msg_lifetime=60,
            cloud_custom_data="cd",
        ),
        "/v4/openim/sendmsg",
        {
            "SyncOtherMachine": 1,
            "From_Account": "@RBT#001",
            "To_Account": "alice",
            "MsgSeq": 3,
            "MsgRandom": 7,
            "MsgLifeTime": 60,
            "MsgBody": HELLO,
            "CloudCustomData": "cd",
        },
        {"MsgTime": 1700000101, "MsgKey": "3_7_1700000101", "MsgId": "m-1"},
        lambda r: (r.msg_time, r.msg_key, r.msg_id),
        (1700000101, "3_7_1700000101", "m-1"),
    ),
    (
        "send_c2c minimal",
        lambda c: c.send_c2c("@RBT#001", "alice", BODY, msg_random=7),
        "/v4/openim/sendmsg",
        {
            "SyncOtherMachine": 2,
            "From_Account": "@RBT#001",
            "To_Account": "alice",
            "MsgRandom": 7,
            "MsgBody": HELLO,
        },
        {"MsgTime": 1700000101, "MsgKey": "k"},
        lambda r: (r.msg_time, r.msg_key, r.msg_id),
        (1700000101, "k", None),
    ),
    (
        "send_group with @ and topic",
        lambda c: c.send_group(
            "@TGS#1", BODY, random=9, from_account="@RBT#001", at_accounts=["bob", "carol"], topic_id="t1"
        ),
        "/v4/group_open_http_svc/send_group_msg",
        {
            "GroupId": "@TGS#1",
            "From_Account": "@RBT#001",
            "Random": 9,
            "MsgBody": HELLO,
            "GroupAtInfo": [
                {"GroupAtAllFlag": 0, "GroupAt_Account": "bob"},
                {"GroupAtAllFlag": 0, "GroupAt_Account": "carol"},
            ],
            "TopicId": "t1",
        },
        {"MsgTime": 1700000201, "MsgSeq": 43, "MsgDropReason": ""},
        lambda r: (r.msg_time, r.msg_seq, r.msg_drop_reason),
        (1700000201, 43, ""),
    ),
    (
        "send_group minimal",
        lambda c: c.send_group("@TGS#1", BODY, random=9),
        "/v4/group_open_http_svc/send_group_msg",
        {"GroupId": "@TGS#1", "Random": 9, "MsgBody": HELLO},
        {"MsgTime": 1, "MsgSeq": 2, "MsgDropReason": "MsgFreqCtrl"},
        lambda r: (r.msg_seq, r.msg_drop_reason),
        (2, "MsgFreqCtrl"),
    ),
    (
        "modify_c2c",
        lambda c: c.modify_c2c("@RBT#001", "alice", "3_7_1", BODY),
        "/v4/openim/modify_c2c_msg",
        {"From_Account": "@RBT#001", "To_Account": "alice", "MsgKey": "3_7_1", "MsgBody": HELLO},
        {},
        lambda r: r,
        None,
    ),
    (
        "modify_group",
        lambda c: c.modify_group("@TGS#1", 43, BODY, topic_id="t1"),
        "/v4/openim/modify_group_msg",
        {"GroupId": "@TGS#1", "MsgSeq": 43, "MsgBody": HELLO, "TopicId": "t1"},
        {},
        lambda r: r,
        None,
    ),
    (
        "create_robot",
        lambda c: c.create_robot("@RBT#001", nick="Helper", face_url="https://x/f.png", self_signature="hi"),
        "/v4/openim_robot_http_svc/create_robot",
        {"UserID": "@RBT#001", "Nick": "Helper", "FaceUrl": "https://x/f.png", "SelfSignature": "hi"},
        {},
        lambda r: r,
        None,
    ),
    (
        "create_robot minimal",
        lambda c: c.create_robot("@RBT#001"),
        "/v4/openim_robot_http_svc/create_robot",
        {"UserID": "@RBT#001"},
        {},
        lambda r: r,
        None,
    ),
    (
        "delete_robot",
        lambda c: c.delete_robot("@RBT#001"),
        "/v4/openim_robot_http_svc/delete_robot",
        {"Robot_Account": "@RBT#001"},
        {},
        lambda r: r,
        None,
    ),
    (
        "get_all_robots",
        lambda c: c.get_all_robots(),
        "/v4/openim_robot_http_svc/get_all_robots",
        {},
        {"Robot_Account": ["@RBT#001", "@RBT#002"]},
        lambda r: r,
        ["@RBT#001", "@RBT#002"],
    ),
    (
        "account_import",
        lambda c: c.account_import("alice", nick="Alice", face_url="https://x/a.png"),
        "/v4/im_open_login_svc/account_import",
        {"UserID": "alice", "Nick": "Alice", "FaceUrl": "https://x/a.png"},
        {},
        lambda r: r,
        None,
    ),
    (
        "multiaccount_import",
        lambda c: c.multiaccount_import(["alice", "bob"]),
        "/v4/im_open_login_svc/multiaccount_import",
        {"Accounts": ["alice", "bob"]},
        {"FailAccounts": ["bob"]},
        lambda r: r,
        ["bob"],
    ),
    (
        "account_check",
        lambda c: c.account_check(["alice", "zed"]),
        "/v4/im_open_login_svc/account_check",
        {"CheckItem": [{"UserID": "alice"}, {"UserID": "zed"}]},
        {
            "ResultItem": [
                {"UserID": "alice", "ResultCode": 0, "ResultInfo": "", "AccountStatus": "Imported"},
                {"UserID": "zed", "ResultCode": 0, "ResultInfo": "", "AccountStatus": "NotImported"},
            ]
        },
        lambda r: [(item.user_id, item.result_code, item.account_status) for item in r],
        [("alice", 0, "Imported"), ("zed", 0, "NotImported")],
    ),
    (
        "create_group with members",
        lambda c: c.create_group("Public", "Help", group_id="help", owner="alice", members=["@RBT#001"]),
        "/v4/group_open_http_svc/create_group",
        {
            "Type": "Public",
            "Name": "Help",
            "GroupId": "help",
            "Owner_Account": "alice",
            "MemberList": [{"Member_Account": "@RBT#001"}],
        },
        {"GroupId": "help"},
        lambda r: r,
        "help",
    ),
    (
        "create_group minimal",
        lambda c: c.create_group("Public", "Help"),
        "/v4/group_open_http_svc/create_group",
        {"Type": "Public", "Name": "Help"},
        {"GroupId": "@TGS#2AAA"},
        lambda r: r,
        "@TGS#2AAA",
    ),
    (
        "add_group_member",
        lambda c: c.add_group_member("@TGS#1", ["@RBT#001", "bob"], silence=False),
        "/v4/group_open_http_svc/add_group_member",
        {
            "GroupId": "@TGS#1",
            "Silence": 0,
            "MemberList": [{"Member_Account": "@RBT#001"}, {"Member_Account": "bob"}],
        },
        {"MemberList": [{"Member_Account": "@RBT#001", "Result": 1}, {"Member_Account": "bob", "Result": 2}]},
        lambda r: [(item.member_account, item.result) for item in r],
        [("@RBT#001", 1), ("bob", 2)],
    ),
    (
        "admin_getroammsg",
        lambda c: c.admin_getroammsg(
            "alice", "@RBT#001", max_cnt=10, min_time=5, max_time=9, last_msg_key="k"
        ),
        "/v4/openim/admin_getroammsg",
        {
            "Operator_Account": "alice",
            "Peer_Account": "@RBT#001",
            "MaxCnt": 10,
            "MinTime": 5,
            "MaxTime": 9,
            "LastMsgKey": "k",
        },
        {
            "Complete": 1,
            "MsgCnt": 1,
            "LastMsgTime": 8,
            "LastMsgKey": "3_7_8",
            "MsgList": [
                {
                    "From_Account": "alice",
                    "To_Account": "@RBT#001",
                    "MsgSeq": 3,
                    "MsgRandom": 7,
                    "MsgTimeStamp": 8,
                    "MsgFlagBits": 0,
                    "MsgKey": "3_7_8",
                    "MsgBody": HELLO,
                }
            ],
        },
        lambda r: (
            r.complete,
            r.msg_cnt,
            r.last_msg_time,
            r.last_msg_key,
            [
                (m.from_account, m.to_account, m.msg_seq, m.msg_random, m.msg_time_stamp, m.msg_key)
                for m in r.msg_list
            ],
            r.msg_list[0].msg_body,
        ),
        (1, 1, 8, "3_7_8", [("alice", "@RBT#001", 3, 7, 8, "3_7_8")], BODY),
    ),
    (
        "admin_getroammsg defaults",
        lambda c: c.admin_getroammsg("alice", "@RBT#001"),
        "/v4/openim/admin_getroammsg",
        {
            "Operator_Account": "alice",
            "Peer_Account": "@RBT#001",
            "MaxCnt": 50,
            "MinTime": 0,
            "MaxTime": MAX_UINT32,
        },
        {"Complete": 1, "MsgCnt": 0},
        lambda r: (r.complete, r.msg_list),
        (1, []),
    ),
    (
        "group_msg_get_simple",
        lambda c: c.group_msg_get_simple("@TGS#1", req_msg_seq=43, req_msg_number=2),
        "/v4/group_open_http_svc/group_msg_get_simple",
        {"GroupId": "@TGS#1", "ReqMsgSeq": 43, "ReqMsgNumber": 2},
        {
            "GroupId": "@TGS#1",
            "IsFinished": 0,
            "RspMsgList": [
                {
                    "From_Account": "bob",
                    "IsPlaceMsg": 0,
                    "MsgBody": HELLO,
                    "MsgPriority": 1,
                    "MsgRandom": 5,
                    "MsgSeq": 43,
                    "MsgTimeStamp": 9,
                },
                {
                    "From_Account": "",
                    "IsPlaceMsg": 1,
                    "MsgBody": [],
                    "MsgRandom": 0,
                    "MsgSeq": 42,
                    "MsgTimeStamp": 0,
                },
            ],
        },
        lambda r: (
            r.is_finished,
            [
                (m.from_account, m.msg_seq, m.msg_random, m.msg_time_stamp, m.is_place_msg)
                for m in r.rsp_msg_list
            ],
            r.rsp_msg_list[0].msg_body,
        ),
        (0, [("bob", 43, 5, 9, 0), ("", 42, 0, 0, 1)], BODY),
    ),
    (
        "group_msg_get_simple newest",
        lambda c: c.group_msg_get_simple("@TGS#1"),
        "/v4/group_open_http_svc/group_msg_get_simple",
        {"GroupId": "@TGS#1", "ReqMsgNumber": 20},
        {"GroupId": "@TGS#1", "IsFinished": 1, "RspMsgList": []},
        lambda r: (r.is_finished, r.rsp_msg_list),
        (1, []),
    ),
]


@pytest.mark.parametrize(
    ("invoke", "path", "body", "answer", "extract", "expected"),
    [case[1:] for case in METHOD_CASES],
    ids=[case[0] for case in METHOD_CASES],
)
async def test_typed_method_request_body_and_result(
    client: ChatClient,
    script: Script,
    invoke: Invoke,
    path: str,
    body: dict[str, Any],
    answer: dict[str, Any],
    extract: Callable[[Any], Any],
    expected: Any,
) -> None:
    script.answers = [answer]

    result = await invoke(client)

    assert [request.url.path for request in script.requests] == [path]
    assert script.bodies() == [body]
    assert extract(result) == expected


async def test_result_keeps_unknown_fields(client: ChatClient, script: Script) -> None:
    script.answers = [{"MsgTime": 1, "MsgKey": "k", "NewField": [1, 2]}]

    result = await client.send_c2c("@RBT#001", "alice", BODY, msg_random=1)

    assert result.model_extra is not None
    assert result.model_extra["NewField"] == [1, 2]


@pytest.mark.parametrize(
    "first",
    [
        fail(60008, "timeout"),
        fail(60007, "rate limit"),
        fail(10023, "group rate limit"),
        httpx.Response(502, text="Bad Gateway"),
        httpx.Response(503),
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("read timed out"),
    ],
    ids=["60008", "60007", "10023", "502", "503", "connect-error", "read-timeout"],
)
async def test_transient_failure_is_retried_once_then_succeeds(
    client: ChatClient, script: Script, first: Answer, clock: FakeClock
) -> None:
    script.answers = [first, {"Robot_Account": ["@RBT#001"]}]

    robots = await client.get_all_robots()

    assert robots == ["@RBT#001"]
    assert len(script.requests) == 2
    assert len(clock.sleeps) == 1
    assert script.bodies() == [{}, {}]


async def test_rate_limit_exhausts_retries_with_growing_backoff(
    client: ChatClient, script: Script, clock: FakeClock
) -> None:
    script.answers = [fail(60007, "too many requests")] * 4

    with pytest.raises(ChatAPIError) as caught:
        await client.call("openim/sendmsg", {"To_Account": "alice"})

    assert caught.value.error_code == 60007
    assert caught.value.command == "openim/sendmsg"
    assert caught.value.retryable
    assert len(script.requests) == 4  # the first try and three retries
    for attempt, delay in enumerate(clock.sleeps, start=1):
        ceiling = 0.5 * 2 ** (attempt - 1)
        assert ceiling / 2 <= delay <= ceiling
    assert len(clock.sleeps) == 3


def paced_client(
    http: httpx.AsyncClient, usersigs: UserSigCache, clock: FakeClock, **options: Any
) -> ChatClient:
    """A client whose clock stands still, so each call's pacing wait is its whole distance in time."""
    return ChatClient(
        http,
        api_base=API_BASE,
        sdkappid=SDKAPPID,
        admin=ADMIN,
        usersigs=usersigs,
        clock=lambda: 0.0,
        sleep=clock.sleep,
        **options,
    )


async def test_a_burst_is_spread_at_the_configured_rate(
    http: httpx.AsyncClient, usersigs: UserSigCache, script: Script, clock: FakeClock
) -> None:
    chat = paced_client(http, usersigs, clock, rate_limit=50)

    await asyncio.gather(*(chat.call("openim/sendmsg", {"To_Account": f"u{n}"}) for n in range(20)))

    assert len(script.requests) == 20
    # The first goes at once; the others wait for their slot, 1/50 s after the one before.
    assert sorted(clock.sleeps) == pytest.approx([n / 50 for n in range(1, 20)])


async def test_each_command_is_paced_on_its_own(
    http: httpx.AsyncClient, usersigs: UserSigCache, clock: FakeClock
) -> None:
    chat = paced_client(http, usersigs, clock, rate_limit=10)
    calls = [chat.call(command) for command in ("openim/sendmsg", "group_open_http_svc/send_group_msg") * 3]

    await asyncio.gather(*calls)

    assert sorted(clock.sleeps) == pytest.approx([0.1, 0.1, 0.2, 0.2])


async def test_default_pace_is_tencents_200_per_second_and_zero_turns_it_off(
    http: httpx.AsyncClient, usersigs: UserSigCache, clock: FakeClock
) -> None:
    default = paced_client(http, usersigs, clock)
    await asyncio.gather(*(default.call("openim/sendmsg") for _ in range(3)))
    assert clock.sleeps == pytest.approx([1 / 200, 2 / 200])

    clock.sleeps.clear()
    unpaced = paced_client(http, usersigs, clock, rate_limit=0)
    await asyncio.gather(*(unpaced.call("openim/sendmsg") for _ in range(50)))
    assert clock.sleeps == []


async def test_typing_signals_take_at_most_a_tenth_of_the_pace_and_never_delay_a_reply(
    http: httpx.AsyncClient, usersigs: UserSigCache, script: Script, clock: FakeClock
) -> None:
    now = [0.0]
    chat = ChatClient(
        http, api_base=API_BASE, sdkappid=SDKAPPID, admin=ADMIN, usersigs=usersigs,
        clock=lambda: now[0], sleep=clock.sleep, rate_limit=100,
    )  # fmt: skip
    typing = text_body("…")
    sent = []
    for tick in range(100):  # one second, a signal offered at every free slot of the pace
        now[0] = tick / 100
        sent.append(await chat.send_signal(ROBOT, f"u{tick}", typing))

    assert sum(sent) == 10  # 100 calls/s, of which signals get 10
    await chat.call("openim/sendmsg", {"To_Account": "u0"})
    assert clock.sleeps == []  # the reply found its slot free


def test_botkit_rest_rate_limit_defaults_to_the_client_default(settings: Settings) -> None:
    assert settings.rest_rate_limit == DEFAULT_RATE_LIMIT == 200.0


@pytest.mark.parametrize("code", [60007, 60011, 60018, 60019, 10023, 60008])
async def test_rate_limited_retries_back_off_with_full_jitter(
    http: httpx.AsyncClient, usersigs: UserSigCache, script: Script, code: int, clock: FakeClock
) -> None:
    jitters = iter([0.0, 0.37, 0.999])
    chat = paced_client(http, usersigs, clock, jitter=lambda: next(jitters), rate_limit=0)
    script.answers = [fail(code, "too many requests")] * 3

    await chat.call("openim/sendmsg")

    # Uniform below a ceiling that doubles from `backoff` (0.5 s): 0 <= delay < 0.5, 1, 2.
    assert clock.sleeps == pytest.approx([0.0 * 0.5, 0.37 * 1.0, 0.999 * 2.0])


async def test_backoff_ceiling_stops_growing_at_the_cap(
    http: httpx.AsyncClient, usersigs: UserSigCache, script: Script, clock: FakeClock
) -> None:
    chat = paced_client(http, usersigs, clock, jitter=lambda: 0.999, retries=8, rate_limit=0)
    script.answers = [fail(60018, "over the frequency limit")] * 8

    await chat.call("openim/sendmsg")

    ceilings = [delay / 0.999 for delay in clock.sleeps]
    assert ceilings == pytest.approx([0.5, 1, 2, 4, MAX_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS, 8, 8])


async def test_parallel_callers_refused_together_come_back_spread_out(
    http: httpx.AsyncClient, usersigs: UserSigCache, script: Script, clock: FakeClock
) -> None:
    chat = paced_client(http, usersigs, clock, jitter=random.Random(8).random, rate_limit=0)
    script.answers = [fail(60018, "over the frequency limit")] * 20

    await asyncio.gather(*(chat.call("openim/sendmsg") for _ in range(20)))

    assert len(clock.sleeps) == 20
    assert all(0 <= delay < 0.5 for delay in clock.sleeps)
    assert len({round(delay, 3) for delay in clock.sleeps}) > 15


@pytest.mark.parametrize("code", [70107, 60002, 90001, 80001, 10004, 70003])
async def test_non_retryable_code_raises_at_once(
    client: ChatClient, script: Script, code: int, clock: FakeClock
) -> None:
    script.answers = [fail(code, "no such user")]

    with pytest.raises(ChatAPIError) as caught:
        await client.call("openim/sendmsg")

    assert (caught.value.error_code, caught.value.error_info) == (code, "no such user")
    assert not caught.value.retryable
    assert len(script.requests) == 1
    assert clock.sleeps == []


async def test_expired_usersig_is_renewed_and_retried_once(
    client: ChatClient, script: Script, usersigs: CountingUserSigs, clock: FakeClock
) -> None:
    script.answers = [fail(70001, "UserSig expired"), {"MsgTime": 5, "MsgKey": "k"}]

    result = await client.send_c2c("@RBT#001", "alice", BODY, msg_random=1)

    assert result.msg_key == "k"
    assert usersigs.invalidations == 1
    assert len(script.requests) == 2
    assert clock.sleeps == [pytest.approx(1 / DEFAULT_RATE_LIMIT)]  # no backoff, only the pacing slot
    retry_sig = script.requests[1].url.params["usersig"]
    assert verify_usersig(retry_sig, sdkappid=SDKAPPID, key=SecretStr(KEY), identifier=ADMIN)


async def test_usersig_still_expired_after_renewal_raises(
    client: ChatClient, script: Script, usersigs: CountingUserSigs
) -> None:
    script.answers = [fail(70001, "UserSig expired")] * 3

    with pytest.raises(ChatAPIError) as caught:
        await client.call("openim/sendmsg")

    assert caught.value.error_code == 70001
    assert usersigs.invalidations == 1
    assert len(script.requests) == 2


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (httpx.ConnectTimeout("connect timed out"), "timed out"),
        (httpx.ReadTimeout("read timed out"), "timed out"),
        (httpx.ConnectError("refused"), "ConnectError"),
        (httpx.Response(502), "HTTP 502"),
    ],
)
async def test_persistent_transport_failure_becomes_chat_transport_error(
    client: ChatClient, script: Script, failure: Answer, reason: str
) -> None:
    script.answers = [failure] * 4

    with pytest.raises(ChatTransportError) as caught:
        await client.call("openim/sendmsg")

    assert "openim/sendmsg" in str(caught.value)
    assert reason in str(caught.value)
    assert len(script.requests) == 4


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>gateway</html>"),
        httpx.Response(200, content=b"\xff\xfe not utf-8"),
        httpx.Response(200, json=[1, 2]),
        httpx.Response(200, json={"ActionStatus": "OK"}),
        httpx.Response(200, json={"ActionStatus": "OK", "ErrorCode": "zero"}),
    ],
    ids=["html", "bad-bytes", "array", "no-error-code", "bad-error-code"],
)
async def test_malformed_answer_is_a_transport_error_without_retry(
    client: ChatClient, script: Script, answer: httpx.Response
) -> None:
    script.answers = [answer]

    with pytest.raises(ChatTransportError, match="openim/sendmsg"):
        await client.call("openim/sendmsg")

    assert len(script.requests) == 1


async def test_result_missing_a_required_field_is_a_transport_error(
    client: ChatClient, script: Script
) -> None:
    script.answers = [{"MsgTime": 5}]

    with pytest.raises(ChatTransportError, match="MsgKey"):
        await client.send_c2c("@RBT#001", "alice", BODY, msg_random=1)


async def test_each_call_logged_at_debug_and_retries_at_warning(
    client: ChatClient, script: Script, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="botkit.restapi")
    script.answers = [fail(60008), {}]

    await client.call("openim/sendmsg")

    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [line.split(" in ")[0] for line in debug] == [
        "openim/sendmsg ErrorCode=60008",
        "openim/sendmsg ErrorCode=0",
    ]
    assert len(warning) == 1
    assert "openim/sendmsg" in warning[0]
    assert "retry 1/3" in warning[0]


@pytest.mark.parametrize(
    "answers",
    [
        [fail(70107)],
        [fail(60007)] * 4,
        [fail(70001)] * 2,
        [httpx.ReadTimeout("timed out")] * 4,
        [httpx.Response(200, text="not json")],
    ],
    ids=["api-error", "exhausted", "renewal-failed", "timeout", "not-json"],
)
async def test_secrets_stay_out_of_errors_reprs_and_logs(
    client: ChatClient,
    script: Script,
    usersigs: UserSigCache,
    caplog: pytest.LogCaptureFixture,
    answers: list[Answer],
) -> None:
    caplog.set_level(logging.DEBUG, logger="botkit.restapi")
    script.answers = list(answers)

    with pytest.raises((ChatAPIError, ChatTransportError)) as caught:
        await client.call("openim/sendmsg")

    sigs = {request.url.params["usersig"] for request in script.requests}
    rendered = [str(caught.value), repr(caught.value), repr(client), repr(usersigs), caplog.text]
    for text in rendered:
        assert KEY not in text
        assert all(sig not in text for sig in sigs)
        assert "usersig=" not in text


async def test_from_settings_uses_the_settings(settings: Settings, script: Script) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(script)) as http:
        chat = ChatClient.from_settings(settings, http)
        await chat.call("openim_robot_http_svc/get_all_robots")

    params = script.requests[0].url.params
    assert str(script.requests[0].url).startswith(
        f"{settings.api_base}/v4/openim_robot_http_svc/get_all_robots?"
    )
    assert params["identifier"] == settings.admin
    assert verify_usersig(params["usersig"], sdkappid=SDKAPPID, key=settings.key, identifier=settings.admin)
    assert (
        repr(chat)
        == f"ChatClient(api_base={settings.api_base!r}, sdkappid={SDKAPPID}, admin={settings.admin!r})"
    )


async def test_the_sandbox_accepts_every_typed_request(
    settings: Settings, chat_api: InProcessSandbox
) -> None:
    async with httpx.AsyncClient(transport=chat_api.transport) as http:
        chat = ChatClient.from_settings(settings, http)
        await chat.account_import("alice", nick="Alice", face_url="https://x/a.png")
        assert await chat.multiaccount_import(["bob", "carol"]) == []
        checked = await chat.account_check(["alice", "zed"])
        await chat.create_robot("@RBT#002", nick="Helper", self_signature="hi")
        robots = await chat.get_all_robots()
        group = await chat.create_group("Public", "Help", owner="alice", members=[ROBOT])
        [added] = await chat.add_group_member(group, ["bob"], silence=True)
        c2c = await chat.send_c2c(ROBOT, "alice", text_body("hi"), msg_random=7, msg_seq=3, msg_lifetime=60)
        await chat.modify_c2c(ROBOT, "alice", c2c.msg_key, text_body("hi again"))
        roam = await chat.admin_getroammsg("alice", ROBOT)
        said = await chat.send_group(
            group, text_body("@bob hello"), random=9, from_account=ROBOT, at_accounts=["bob"]
        )
        await chat.modify_group(group, said.msg_seq, text_body("hello all"))
        history = await chat.group_msg_get_simple(group)
        await chat.delete_robot("@RBT#002")

    assert [(item.user_id, item.account_status) for item in checked] == [
        ("alice", "Imported"),
        ("zed", "NotImported"),
    ]
    assert "@RBT#002" in robots
    assert (added.member_account, added.result) == ("bob", 1)
    assert [body_text(message.msg_body) for message in roam.msg_list] == ["hi again"]
    assert [body_text(message.msg_body) for message in history.rsp_msg_list] == ["hello all"]
    assert {call.response["ErrorCode"] for call in rest_traffic(chat_api)} == {0}
