"""Account and robot commands: `im_open_login_svc/*` and `openim_robot_http_svc/*` (protocol.md §3, §5.6).

Robot IDs (`@RBT#…`) are made only by `create_robot`; `account_import` refuses them with 70402, so an
ID is either a robot or a user, never both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botkit.callbacks import is_robot
from botkit.config import ROBOT_PREFIX
from botkit.errorcodes import ErrorCode
from botkit.restmodels import AccountCheckResult, AccountStatus, RobotList
from sandbox import fields
from sandbox.context import CommandContext, CommandResult
from sandbox.errorcodes import SandboxError

MAX_USER_ID_BYTES = 32
MAX_ROBOTS = 20
MAX_IMPORT = 100
MAX_SIGNATURE_BYTES = 500


def _user_id_problem(user_id: object) -> str | None:
    """Why `user_id` cannot be imported as a user account, or None."""
    if not isinstance(user_id, str) or not user_id:
        return "UserID is missing or is not a non-empty string."
    if len(user_id.encode("utf-8")) > MAX_USER_ID_BYTES:
        return f"UserID is over {MAX_USER_ID_BYTES} bytes."
    if is_robot(user_id):
        return f"{ROBOT_PREFIX} IDs are robots: create them with openim_robot_http_svc/create_robot."
    return None


def account_import(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    """Import one account; older clients name the field `Identifier` instead of `UserID`."""
    user_id = body.get("UserID", body.get("Identifier"))
    problem = _user_id_problem(user_id)
    if problem is not None:
        raise SandboxError(ErrorCode.ACCOUNT_BAD_PARAM, problem)
    nick = fields.optional_text(body, "Nick", ErrorCode.ACCOUNT_BAD_PARAM)
    face_url = fields.optional_text(body, "FaceUrl", ErrorCode.ACCOUNT_BAD_PARAM)
    ctx.state.import_account(str(user_id), nick, face_url)
    return CommandResult()


def multiaccount_import(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    """Import up to 100 accounts, given as `Accounts: [id, …]` or `AccountList: [{UserID, …}, …]`."""
    if "AccountList" in body:
        items = fields.object_list(body, "AccountList", ErrorCode.ACCOUNT_BAD_PARAM, most=MAX_IMPORT)
    else:
        accounts = body.get("Accounts")
        if not isinstance(accounts, list) or not accounts or len(accounts) > MAX_IMPORT:
            raise SandboxError(ErrorCode.ACCOUNT_BAD_PARAM, f"Accounts must list 1 to {MAX_IMPORT} UserIDs.")
        items = [{"UserID": user_id} for user_id in accounts]
    # Not an ImportResult: a UserID that is not a string comes back as it was sent.
    failed: list[Any] = []
    for item in items:
        user_id, nick, face_url = item.get("UserID"), item.get("Nick", ""), item.get("FaceUrl", "")
        if (
            _user_id_problem(user_id) is not None
            or not isinstance(nick, str)
            or not isinstance(face_url, str)
        ):
            failed.append(user_id)
            continue
        ctx.state.import_account(str(user_id), nick, face_url)
    return CommandResult({"FailAccounts": failed})


def account_check(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    items = fields.object_list(body, "CheckItem", ErrorCode.ACCOUNT_BAD_PARAM, most=MAX_IMPORT)
    results = []
    for item in items:
        user_id = fields.text(item, "UserID", ErrorCode.ACCOUNT_BAD_PARAM)
        status = "Imported" if ctx.state.account_exists(user_id) else "NotImported"
        results.append(AccountStatus(user_id=user_id, result_code=0, result_info="", account_status=status))
    return CommandResult(AccountCheckResult(result_item=results).to_wire())


def create_robot(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    """Create a robot; creating a live one again is a no-op success, a deleted one stays taken."""
    bad = ErrorCode.GROUP_BAD_PARAM
    user_id = fields.text(body, "UserID", bad)
    if not is_robot(user_id) or user_id == ROBOT_PREFIX:
        raise SandboxError(bad, f"a robot UserID must start with {ROBOT_PREFIX}.")
    if len(user_id.encode("utf-8")) > MAX_USER_ID_BYTES:
        raise SandboxError(bad, f"a robot UserID is at most {MAX_USER_ID_BYTES} bytes.")
    nick = fields.optional_text(body, "Nick", bad)
    face_url = fields.optional_text(body, "FaceUrl", bad)
    if len(fields.optional_text(body, "SelfSignature", bad).encode("utf-8")) > MAX_SIGNATURE_BYTES:
        raise SandboxError(bad, f"SelfSignature is over {MAX_SIGNATURE_BYTES} bytes.")
    existing = ctx.state.account(user_id)
    if existing is not None:
        if existing.deleted:
            raise SandboxError(bad, "this robot was deleted; its UserID is not freed.")
        return CommandResult()
    if len(ctx.state.robots()) >= MAX_ROBOTS:
        raise SandboxError(ErrorCode.ROBOT_LIMIT)
    ctx.state.create_robot(user_id, nick, face_url)
    return CommandResult()


def delete_robot(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    robot = fields.text(body, "Robot_Account", ErrorCode.GROUP_BAD_PARAM)
    if not ctx.state.delete_robot(robot):
        raise SandboxError(ErrorCode.GROUP_BAD_PARAM, f"{robot} is not a live robot.")
    return CommandResult()


def get_all_robots(ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    return CommandResult(RobotList(robot_account=[robot.user_id for robot in ctx.state.robots()]).to_wire())
