"""Every REST command the fake answers, in one "service/command" → function table.

A command takes a `CommandContext` and the parsed JSON body and returns a `CommandResult` (the extra
answer fields and the robot callbacks to send), or raises `SandboxError` with Tencent's code. The
commands live by topic in `accounts`, `c2c` and `groups`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from sandbox import accounts, c2c, groups, streams
from sandbox.errorcodes import ErrorCode, SandboxError
from sandbox.models import CommandContext, CommandResult

Command = Callable[[CommandContext, Mapping[str, Any]], CommandResult]

COMMANDS: Mapping[str, Command] = MappingProxyType(
    {
        "im_open_login_svc/account_import": accounts.account_import,
        "im_open_login_svc/multiaccount_import": accounts.multiaccount_import,
        "im_open_login_svc/account_check": accounts.account_check,
        "openim_robot_http_svc/create_robot": accounts.create_robot,
        "openim_robot_http_svc/delete_robot": accounts.delete_robot,
        "openim_robot_http_svc/get_all_robots": accounts.get_all_robots,
        "openim/sendmsg": c2c.sendmsg,
        "openim/batchsendmsg": c2c.batchsendmsg,
        "openim/admin_getroammsg": c2c.admin_getroammsg,
        "openim/modify_c2c_msg": c2c.modify_c2c_msg,
        "openim/modify_group_msg": groups.modify_group_msg,
        "group_open_http_svc/create_group": groups.create_group,
        "group_open_http_svc/add_group_member": groups.add_group_member,
        "group_open_http_svc/send_group_msg": groups.send_group_msg,
        "group_open_http_svc/group_msg_get_simple": groups.group_msg_get_simple,
        "openim_robot_http_svc/send_stream_msg": streams.send_stream_msg,
        "stream_msg/send_c2c_stream_msg": streams.send_c2c_stream_msg,
        "stream_msg/send_group_stream_msg": streams.send_group_stream_msg,
    }
)


def find_command(name: str) -> Command:
    """The command for "service/command"; an unknown one is 60002, as for a URL Tencent can't route."""
    command = COMMANDS.get(name)
    if command is None:
        raise SandboxError(ErrorCode.HTTP_PARSE, f"unknown command {name!r}.")
    return command


def run_command(name: str, ctx: CommandContext, body: Mapping[str, Any]) -> CommandResult:
    return find_command(name)(ctx, body)
