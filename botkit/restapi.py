"""Async Chat REST client: signed URL, `{}` for empty bodies, envelope checks and safe retries.

https://trtc.io/document/34620 (common rules), https://trtc.io/document/34348 (error codes)
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import ValidationError

from botkit.config import Settings
from botkit.elements import MsgBody, WireModel, first_problem
from botkit.errors import ChatAPIError, ChatTransportError, Retry, classify_error_code, setting_hint
from botkit.logmask import install_log_scrubber, scrub
from botkit.metrics import Metrics
from botkit.ratelimit import RateLimiter
from botkit.restmodels import (
    MAX_HISTORY_PAGE,
    MAX_UINT32,
    AccountCheckResult,
    AccountStatus,
    AddMembersResult,
    CreateGroupResult,
    Envelope,
    GroupHistory,
    GroupSendResult,
    ImportResult,
    MemberResult,
    RestCommand,
    RoamMessages,
    RobotList,
    RobotStreamResult,
    SendResult,
    StreamResult,
)
from botkit.restrequests import (
    AccountCheckRequest,
    AccountImportRequest,
    AddGroupMemberRequest,
    CheckItem,
    CreateGroupRequest,
    CreateRobotRequest,
    DeleteRobotRequest,
    GetRoamMsgRequest,
    GroupAt,
    GroupMsgGetSimpleRequest,
    Member,
    ModifyC2CRequest,
    ModifyGroupRequest,
    MultiAccountImportRequest,
    RobotStreamRequest,
    SendC2CRequest,
    SendGroupRequest,
    SendGroupStreamRequest,
)
from botkit.usersig import UserSigCache

logger = logging.getLogger("botkit.restapi")

# sendmsg's documented frequency limit (protocol.md §5.1); Tencent limits each command on its own.
DEFAULT_RATE_LIMIT = 200.0
SIGNAL_SHARE = 0.1
"""The most of a command's pace that online-only signals ("typing…") may take: 20 calls/s at 200."""
MAX_BACKOFF_SECONDS = 8.0

ResultT = TypeVar("ResultT", bound=WireModel)
GroupMessageT = TypeVar("GroupMessageT", bound=SendGroupRequest)


class _Transient(Exception):
    """A failure before any envelope arrived (timeout, network, non-200): worth a retry."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _random_uint32() -> int:
    """The `random` query parameter: it tells requests apart, it guards nothing, so no urandom call."""
    return random.getrandbits(32)


class ChatClient:
    """The Chat REST API over a shared `httpx.AsyncClient`, as the app admin.

    Paces each command at `rate_limit` calls/s (0 = off); retries rate limits, internal errors and
    gateway trouble with exponential backoff and full jitter; renews the UserSig once on 70001.
    `random_source` feeds the URL `random`, `jitter` (uniform in [0, 1)) the backoff, and `clock`
    with `sleep` the pacing, so tests run on a fake clock.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_base: str,
        sdkappid: int,
        admin: str,
        usersigs: UserSigCache,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        rate_limit: float = DEFAULT_RATE_LIMIT,
        random_source: Callable[[], int] | None = None,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        metrics: Metrics | None = None,
    ) -> None:
        install_log_scrubber()  # httpx logs every request URL at INFO, UserSig included
        self._metrics = metrics or Metrics()
        self._http = http
        self.api_base = api_base.rstrip("/")
        self.sdkappid = sdkappid
        self.admin = admin
        self._usersigs = usersigs
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._random = random_source or _random_uint32
        self._jitter = jitter
        self._sleep = sleep
        self._limiter = RateLimiter(rate_limit, clock=clock, sleep=sleep)
        self._signals = RateLimiter(rate_limit * SIGNAL_SHARE, clock=clock, sleep=sleep)
        self._signed_query: tuple[str, str] | None = None  # (UserSig, its part of the query string)

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient, *, metrics: Metrics | None = None
    ) -> ChatClient:
        usersigs = UserSigCache(settings.sdkappid, settings.key, settings.admin)
        return cls(
            http,
            api_base=settings.api_base,
            sdkappid=settings.sdkappid,
            admin=settings.admin,
            usersigs=usersigs,
            timeout=settings.rest_timeout,
            retries=settings.rest_retries,
            metrics=metrics,
            rate_limit=settings.rest_rate_limit,
        )

    def __repr__(self) -> str:
        return f"ChatClient(api_base={self.api_base!r}, sdkappid={self.sdkappid}, admin={self.admin!r})"

    async def call(self, command: str, payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST one "service/command" and return the answer; `ChatAPIError` when `ErrorCode` != 0."""
        body = dict(payload or {})
        attempt = 0
        renewed = False
        while True:
            await self._limiter.acquire(command)
            try:
                return await self._metrics.time_rest(command, self._attempt(command, body))
            except ChatAPIError as exc:
                retry = classify_error_code(exc.error_code)
                if retry is Retry.RENEW_USERSIG and not renewed:
                    renewed = True
                    self._usersigs.invalidate()
                    logger.warning("%s: UserSig expired (70001), retrying with a new one", command)
                    continue
                if retry is not Retry.BACKOFF or attempt >= self._retries:
                    # Whoever catches it reports it (the intake worker, the CLI): logging it here too
                    # would say everything twice.
                    logger.debug("%s failed: ErrorCode %d (%s)", command, exc.error_code, exc.error_info)
                    raise
                reason = f"ErrorCode {exc.error_code}"
            except _Transient as exc:
                if attempt >= self._retries:
                    tries = "1 attempt" if attempt == 0 else f"{attempt + 1} attempts"
                    message = f"{command}: {exc.reason}, gave up after {tries}"
                    message += "; check BOTKIT_API_BASE and the network"
                    logger.debug("%s", message)
                    raise ChatTransportError(message) from None
                reason = exc.reason
            attempt += 1
            delay = self._backoff_delay(attempt)
            logger.warning("%s: %s, retry %d/%d in %.2f s", command, reason, attempt, self._retries, delay)
            await self._sleep(delay)

    def _url(self, command: str) -> str:
        """The signed URL of one call. The query string is built as text: handed `params`, httpx
        parses the whole URL twice per request, the UserSig character by character."""
        usersig = self._usersigs.get()
        if self._signed_query is None or self._signed_query[0] != usersig:
            fixed = urlencode({"sdkappid": self.sdkappid, "identifier": self.admin, "usersig": usersig})
            self._signed_query = (usersig, fixed)
        return (
            f"{self.api_base}/v4/{command}?{self._signed_query[1]}&random={self._random()}&contenttype=json"
        )

    async def _attempt(self, command: str, body: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            response = await self._http.post(self._url(command), json=body, timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise _Transient(f"{self.api_base} timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Transient(f"cannot reach {self.api_base} ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise _Transient(f"{self.api_base} answered HTTP {response.status_code}")
        data = _decode(command, response)
        envelope = _parse(Envelope, command, data)
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug("%s ErrorCode=%d in %.0f ms", command, envelope.error_code, elapsed_ms)
        if envelope.error_code != 0:
            hint = setting_hint(envelope.error_code, sdkappid=self.sdkappid, admin=self.admin)
            # An ErrorInfo may quote the request URL, UserSig and all.
            raise ChatAPIError(command, envelope.error_code, scrub(envelope.error_info), hint=hint)
        return data

    def _backoff_delay(self, attempt: int) -> float:
        """Full jitter: uniform below an exponentially growing ceiling, so callers that failed
        together (a 60018 burst) come back spread out instead of in step."""
        ceiling = min(MAX_BACKOFF_SECONDS, self._backoff * 2.0 ** (attempt - 1))
        return ceiling * self._jitter()

    async def _typed(self, model: type[ResultT], command: str, request: WireModel | None = None) -> ResultT:
        payload = request.to_wire() if request is not None else None
        return _parse(model, command, await self.call(command, payload))

    async def send_c2c(
        self,
        from_account: str,
        to_account: str,
        body: MsgBody,
        *,
        msg_random: int,
        msg_seq: int | None = None,
        sync_other_machine: int = 2,
        msg_lifetime: int | None = None,
        cloud_custom_data: str | None = None,
    ) -> SendResult:
        """Send a 1:1 message; reusing `msg_seq` and `msg_random` makes a resend a no-op duplicate."""
        request = SendC2CRequest(
            sync_other_machine=sync_other_machine,
            from_account=from_account,
            to_account=to_account,
            msg_seq=msg_seq,
            msg_random=msg_random,
            msg_lifetime=msg_lifetime,
            msg_body=body,
            cloud_custom_data=cloud_custom_data,
        )
        return await self._typed(SendResult, RestCommand.SEND_C2C, request)

    async def send_signal(self, from_account: str, to_account: str, body: MsgBody) -> bool:
        """Send an online-only 1:1 message that is never stored or counted unread (a "typing…"
        signal), only when the `sendmsg` pace has a free slot now and signals have used less than
        `SIGNAL_SHARE` of it, and never retried: replies come first, and thousands of answers in
        flight must not spend a CPU on "typing…". False when skipped; a refusal raises as any
        call does."""
        if not self._signals.try_acquire(RestCommand.SEND_C2C):
            return False
        if not self._limiter.try_acquire(RestCommand.SEND_C2C):
            return False
        request = SendC2CRequest(
            sync_other_machine=2,
            from_account=from_account,
            to_account=to_account,
            msg_random=random.getrandbits(32),  # each signal is new: a repeat must not be de-duplicated
            msg_body=body,
            online_only_flag=1,
            send_msg_control=["NoUnread", "NoLastMsg"],
        )
        command = RestCommand.SEND_C2C
        await self._metrics.time_rest(command, self._attempt(command, request.to_wire()))
        return True

    async def send_group(
        self,
        group_id: str,
        body: MsgBody,
        *,
        random: int,
        from_account: str | None = None,
        at_accounts: Sequence[str] = (),
        topic_id: str | None = None,
    ) -> GroupSendResult:
        """Send a group message; `at_accounts` become `GroupAtInfo`, in the order of the @s in the text."""
        request = _group_message(
            SendGroupRequest, group_id, body, random, from_account, at_accounts, topic_id
        )
        return await self._typed(GroupSendResult, RestCommand.SEND_GROUP, request)

    async def modify_c2c(self, from_account: str, to_account: str, msg_key: str, body: MsgBody) -> None:
        """Overwrite the body of a sent 1:1 message (irreversible)."""
        request = ModifyC2CRequest(
            from_account=from_account, to_account=to_account, msg_key=msg_key, msg_body=body
        )
        await self.call(RestCommand.MODIFY_C2C, request.to_wire())

    async def modify_group(
        self, group_id: str, msg_seq: int, body: MsgBody, topic_id: str | None = None
    ) -> None:
        """Overwrite the body of a sent group message (irreversible; not for AVChatRoom)."""
        request = ModifyGroupRequest(group_id=group_id, msg_seq=msg_seq, msg_body=body, topic_id=topic_id)
        await self.call(RestCommand.MODIFY_GROUP, request.to_wire())

    async def create_robot(
        self,
        user_id: str,
        nick: str | None = None,
        face_url: str | None = None,
        self_signature: str | None = None,
    ) -> None:
        """Create a robot account (`@RBT#…`); creating an existing one again succeeds."""
        request = CreateRobotRequest(
            user_id=user_id, nick=nick, face_url=face_url, self_signature=self_signature
        )
        await self.call(RestCommand.CREATE_ROBOT, request.to_wire())

    async def delete_robot(self, user_id: str) -> None:
        """Mark a robot invalid; its UserID stays taken."""
        await self.call(RestCommand.DELETE_ROBOT, DeleteRobotRequest(robot_account=user_id).to_wire())

    async def get_all_robots(self) -> list[str]:
        return (await self._typed(RobotList, RestCommand.GET_ALL_ROBOTS)).robot_account

    async def account_import(
        self, user_id: str, nick: str | None = None, face_url: str | None = None
    ) -> None:
        request = AccountImportRequest(user_id=user_id, nick=nick, face_url=face_url)
        await self.call(RestCommand.ACCOUNT_IMPORT, request.to_wire())

    async def multiaccount_import(self, user_ids: Sequence[str]) -> list[str]:
        """Import up to 100 accounts; returns the ones that failed."""
        request = MultiAccountImportRequest(accounts=list(user_ids))
        return (await self._typed(ImportResult, RestCommand.MULTIACCOUNT_IMPORT, request)).fail_accounts

    async def account_check(self, user_ids: Sequence[str]) -> list[AccountStatus]:
        request = AccountCheckRequest(check_item=[CheckItem(user_id=user_id) for user_id in user_ids])
        return (await self._typed(AccountCheckResult, RestCommand.ACCOUNT_CHECK, request)).result_item

    async def create_group(
        self,
        type: str,
        name: str,
        *,
        group_id: str | None = None,
        owner: str | None = None,
        members: Sequence[str] = (),
    ) -> str:
        """Create a group and return its GroupId (generated as `@TGS#…` when none is given)."""
        request = CreateGroupRequest(
            type=type,
            name=name,
            group_id=group_id,
            owner_account=owner,
            member_list=_members(members) or None,
        )
        return (await self._typed(CreateGroupResult, RestCommand.CREATE_GROUP, request)).group_id

    async def add_group_member(
        self, group_id: str, members: Sequence[str], silence: bool = True
    ) -> list[MemberResult]:
        request = AddGroupMemberRequest(
            group_id=group_id, silence=int(silence), member_list=_members(members)
        )
        return (await self._typed(AddMembersResult, RestCommand.ADD_GROUP_MEMBER, request)).member_list

    async def admin_getroammsg(
        self,
        operator: str,
        peer: str,
        *,
        max_cnt: int = 50,
        min_time: int = 0,
        max_time: int = MAX_UINT32,
        last_msg_key: str | None = None,
    ) -> RoamMessages:
        """One page of the 1:1 history between `operator` and `peer`; page on with `last_msg_key`."""
        request = GetRoamMsgRequest(
            operator_account=operator,
            peer_account=peer,
            max_cnt=max_cnt,
            min_time=min_time,
            max_time=max_time,
            last_msg_key=last_msg_key,
        )
        return await self._typed(RoamMessages, RestCommand.GET_ROAM_MSG, request)

    async def group_msg_get_simple(
        self, group_id: str, *, req_msg_seq: int | None = None, req_msg_number: int = MAX_HISTORY_PAGE
    ) -> GroupHistory:
        """Up to 20 group messages (`MAX_HISTORY_PAGE`) ending at `req_msg_seq` (the newest when None)."""
        request = GroupMsgGetSimpleRequest(
            group_id=group_id, req_msg_seq=req_msg_seq, req_msg_number=req_msg_number
        )
        return await self._typed(GroupHistory, RestCommand.GROUP_MSG_GET_SIMPLE, request)

    async def send_stream_msg(
        self,
        from_account: str,
        to_account: str,
        chunk: str,
        *,
        msg_key: str | None = None,
        finish: bool = False,
    ) -> RobotStreamResult:
        """One call of a robot's 1:1 stream: the first (no `msg_key`) opens it, `finish` ends it."""
        request = RobotStreamRequest(
            from_account=from_account,
            to_account=to_account,
            chunk=chunk,
            msg_key=msg_key,
            finish=1 if finish else None,
        )
        return await self._typed(RobotStreamResult, RestCommand.SEND_ROBOT_STREAM, request)

    async def send_c2c_stream_msg(
        self,
        from_account: str,
        to_account: str,
        body: MsgBody,
        *,
        msg_random: int,
        msg_seq: int | None = None,
        sync_other_machine: int = 2,
    ) -> StreamResult:
        """One call of a native 1:1 stream (`body` holds one `TIMStreamElem`); reusing `msg_seq` and
        `msg_random` on the first call makes a resend find the stream it opened."""
        request = SendC2CRequest(
            sync_other_machine=sync_other_machine,
            from_account=from_account,
            to_account=to_account,
            msg_seq=msg_seq,
            msg_random=msg_random,
            msg_body=body,
        )
        return await self._typed(StreamResult, RestCommand.SEND_C2C_STREAM, request)

    async def send_group_stream_msg(
        self,
        group_id: str,
        body: MsgBody,
        *,
        msg_random: int,
        from_account: str | None = None,
        at_accounts: Sequence[str] = (),
        topic_id: str | None = None,
    ) -> StreamResult:
        """One call of a native group stream; `MsgRandom` as in Tencent's sample (protocol.md §6)."""
        request = _group_message(
            SendGroupStreamRequest, group_id, body, msg_random, from_account, at_accounts, topic_id
        )
        return await self._typed(StreamResult, RestCommand.SEND_GROUP_STREAM, request)


def _group_message(
    model: type[GroupMessageT],
    group_id: str,
    body: MsgBody,
    random: int,
    from_account: str | None,
    at_accounts: Sequence[str],
    topic_id: str | None,
) -> GroupMessageT:
    """A group message body (plain or streamed); `at_accounts` become `GroupAtInfo`, in order."""
    return model(
        group_id=group_id,
        from_account=from_account,
        random=random,
        msg_body=body,
        group_at_info=[GroupAt.member(account) for account in at_accounts] or None,
        topic_id=topic_id,
    )


def _members(members: Sequence[str]) -> list[Member]:
    return [Member(member_account=member) for member in members]


def _decode(command: str, response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise ChatTransportError(f"{command}: the answer is not JSON") from None
    if not isinstance(data, dict):
        raise ChatTransportError(f"{command}: the answer is not a JSON object")
    return data


def _parse(model: type[ResultT], command: str, data: Mapping[str, Any]) -> ResultT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ChatTransportError(f"{command}: unexpected answer ({first_problem(exc)})") from None
