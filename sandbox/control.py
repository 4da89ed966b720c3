"""The sandbox's own JSON API under `/sandbox/api`: what the UI and test helpers drive.

No UserSig here: it is a local tool. The callback token is never sent back, only whether one is set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from botkit.elements import WireModel, body_text, text_body
from botkit.errors import BotkitError
from botkit.lab.recording import dump_lines, load_lines
from botkit.restmodels import MAX_UINT32, RestCommand
from botkit.restrequests import GroupAt, SendC2CRequest, SendGroupRequest
from sandbox.dispatch import c2c_callback, group_callback
from sandbox.faults import Faults
from sandbox.models import C2CRecord, GroupRecord, SandboxConfig

if TYPE_CHECKING:
    from sandbox.backend import Backend


class ConfigView(BaseModel):
    sdkappid: int
    admin: str
    webhook_url: str | None
    callback_token_set: bool
    callback_timeout: float
    callback_retries: int
    robots: list[str]


class ConfigUpdate(BaseModel):
    """Fields to change; leave one out to keep it. An empty or null `callback_token` turns auth off."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: str | None = None
    callback_token: str | None = None
    callback_timeout: float | None = None
    callback_retries: int | None = None


class SendRequest(BaseModel):
    """A message from a user, as a client SDK would send it: `to` is a UserID (c2c) or a GroupId."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["c2c", "group"]
    from_account: str = Field(min_length=1)
    to: str = Field(min_length=1)
    text: str | None = None
    msg_body: list[dict[str, Any]] | None = None
    at: list[str] = Field(default_factory=list, description="Group only: accounts for GroupAtInfo.")
    at_all: bool = False


def config_view(backend: Backend) -> ConfigView:
    config = backend.state.config
    return ConfigView(
        sdkappid=config.sdkappid,
        admin=config.admin,
        webhook_url=config.webhook_url,
        callback_token_set=config.callback_token is not None,
        callback_timeout=config.callback_timeout,
        callback_retries=config.callback_retries,
        robots=[robot.user_id for robot in backend.state.robots()],
    )


def updated_config(config: SandboxConfig, update: ConfigUpdate) -> SandboxConfig:
    changes = update.model_dump(include=update.model_fields_set)
    if "callback_token" in changes and not changes["callback_token"]:
        changes["callback_token"] = None
    try:
        return config.model_validate(config.model_dump() | changes)
    except ValidationError as exc:
        raise HTTPException(422, detail=exc.errors(include_url=False, include_context=False)) from None


def send_body(request: SendRequest, rng_value: int) -> tuple[str, dict[str, Any]]:
    """The REST command and body that carry a UI message."""
    text = text_body(request.text or "")
    if request.kind == "c2c":
        c2c = SendC2CRequest(
            from_account=request.from_account, to_account=request.to, msg_random=rng_value, msg_body=text
        )
        return RestCommand.SEND_C2C, _with_raw_body(c2c, request.msg_body)
    at_info = [GroupAt.member(account) for account in request.at]
    if request.at_all:
        at_info.insert(0, GroupAt.everyone())
    group = SendGroupRequest(
        group_id=request.to,
        from_account=request.from_account,
        random=rng_value,
        msg_body=text,
        group_at_info=at_info,
    )
    return RestCommand.SEND_GROUP, _with_raw_body(group, request.msg_body)


def _with_raw_body(request: WireModel, msg_body: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The request, its `MsgBody` replaced by the one given as is (if any): a malformed body then
    meets the fake's own checks (90002) as it would Tencent's."""
    body = request.to_wire()
    if msg_body is not None:
        body["MsgBody"] = msg_body
    return body


# The history views name a stored message's fields as its robot callback does (MsgTime, Random),
# then add its text: one vocabulary for a message, whether it came as a callback or is looked up.
_C2C_VIEW = {
    "from_account",
    "to_account",
    "msg_seq",
    "msg_random",
    "msg_time",
    "msg_key",
    "msg_body",
    "cloud_custom_data",
}
_GROUP_VIEW = {"group_id", "from_account", "msg_seq", "random", "msg_time", "msg_body", "cloud_custom_data"}


def _c2c_view(record: C2CRecord) -> dict[str, Any]:
    message = c2c_callback(record, event_time=0)
    view = message.model_dump(mode="json", include=_C2C_VIEW, exclude_none=True)
    return view | {"Text": body_text(record.body)}


def _group_view(record: GroupRecord) -> dict[str, Any]:
    message = group_callback(record, group_type="", at_robots=[], operator="", event_time=0)
    view = message.model_dump(mode="json", include=_GROUP_VIEW, exclude_none=True)
    return view | {"Text": body_text(record.body)}


def control_router(backend: Backend) -> APIRouter:
    router = APIRouter(prefix="/sandbox/api")

    @router.get("/config")
    def get_config() -> ConfigView:
        return config_view(backend)

    @router.put("/config")
    def put_config(update: ConfigUpdate) -> ConfigView:
        backend.state.set_config(updated_config(backend.state.config, update))
        return config_view(backend)

    @router.get("/faults")
    def get_faults() -> Faults:
        return backend.faults

    @router.put("/faults")
    def put_faults(faults: Faults) -> Faults:
        backend.faults = faults
        return faults

    @router.get("/traffic")
    def traffic(
        kind: Literal["callback", "rest"] | None = None, limit: int = Query(100, ge=1)
    ) -> dict[str, Any]:
        entries = backend.traffic.list(kind=kind)[:limit]
        return {"version": backend.traffic.version, "entries": [entry.model_dump() for entry in entries]}

    @router.delete("/traffic")
    def clear_traffic() -> dict[str, Any]:
        backend.traffic.clear()
        return {"version": backend.traffic.version}

    @router.get("/recording", response_class=PlainTextResponse)
    def recording() -> str:
        """The session so far as JSON lines, for `botkit replay FILE --to URL` or a test fixture."""
        return dump_lines(backend.recording)

    @router.delete("/recording")
    def clear_recording() -> dict[str, Any]:
        backend.recording.clear()
        return {"recorded": 0}

    @router.post("/replay")
    async def replay(request: Request) -> dict[str, Any]:
        """Send the callbacks of a recording (JSON lines in the body) to the bot again."""
        try:
            calls = load_lines((await request.body()).decode("utf-8", errors="replace"))
            return {"replayed": backend.replay(calls)}
        except BotkitError as exc:
            raise HTTPException(422, detail=str(exc)) from None

    @router.post("/send")
    async def send(request: SendRequest) -> dict[str, Any]:
        """Send as a user (the UI's chat box): same checks and callbacks as REST, platform "Web"."""
        command, body = send_body(request, backend.rng.randrange(MAX_UINT32 + 1))
        return backend.execute(command, body, operator=request.from_account, platform="Web")

    @router.post("/rest/{service}/{command}")
    async def rest_as_admin(service: str, command: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run a REST command as the admin without URL or UserSig checks (for the UI and fixtures)."""
        return backend.execute(f"{service}/{command}", body)

    @router.get("/accounts")
    def accounts() -> list[dict[str, Any]]:
        return [vars(account) for account in backend.state.accounts()]

    @router.get("/groups")
    def groups() -> list[dict[str, Any]]:
        found = backend.state.groups()
        return [vars(group) | {"members": backend.state.members(group.group_id)} for group in found]

    @router.get("/conversations")
    def conversations(user: str) -> list[dict[str, Any]]:
        return [vars(conversation) for conversation in backend.state.list_conversations(user)]

    @router.get("/history/c2c")
    def c2c_history(a: str, b: str, limit: int = Query(50, ge=1)) -> list[dict[str, Any]]:
        """Messages between `a` and `b`, oldest first."""
        return [_c2c_view(record) for record in reversed(backend.state.c2c_history(a, b, limit=limit))]

    @router.get("/history/group")
    def group_history(group_id: str, limit: int = Query(50, ge=1)) -> list[dict[str, Any]]:
        """Messages of a group, oldest first (GroupIds hold '#', so it is a query parameter)."""
        return [
            _group_view(record) for record in reversed(backend.state.group_history(group_id, limit=limit))
        ]

    return router
