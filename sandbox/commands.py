"""Every REST command the fake answers, in one "service/command" → function table.

A command takes a `CommandContext` and the parsed JSON body and returns a `CommandResult` (the extra
answer fields and the robot callbacks to send), or raises `SandboxError` with Tencent's code. The
commands live by topic in `accounts`, `c2c` and `groups`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from botkit.errorcodes import ErrorCode
from botkit.restmodels import RestCommand
from sandbox import accounts, c2c, groups, streams
from sandbox.context import CommandContext, CommandResult
from sandbox.errorcodes import SandboxError

Command = Callable[[CommandContext, Mapping[str, Any]], CommandResult]

COMMANDS: Mapping[str, Command] = MappingProxyType(
    {
        RestCommand.ACCOUNT_IMPORT: accounts.account_import,
        RestCommand.MULTIACCOUNT_IMPORT: accounts.multiaccount_import,
        RestCommand.ACCOUNT_CHECK: accounts.account_check,
        RestCommand.CREATE_ROBOT: accounts.create_robot,
        RestCommand.DELETE_ROBOT: accounts.delete_robot,
        RestCommand.GET_ALL_ROBOTS: accounts.get_all_robots,
        RestCommand.SEND_C2C: c2c.sendmsg,
        RestCommand.BATCH_SEND_C2C: c2c.batchsendmsg,
        RestCommand.GET_ROAM_MSG: c2c.admin_getroammsg,
        RestCommand.MODIFY_C2C: c2c.modify_c2c_msg,
        RestCommand.MODIFY_GROUP: groups.modify_group_msg,
        RestCommand.CREATE_GROUP: groups.create_group,
        RestCommand.ADD_GROUP_MEMBER: groups.add_group_member,
        RestCommand.SEND_GROUP: groups.send_group_msg,
        RestCommand.GROUP_MSG_GET_SIMPLE: groups.group_msg_get_simple,
        RestCommand.SEND_ROBOT_STREAM: streams.send_stream_msg,
        RestCommand.SEND_C2C_STREAM: streams.send_c2c_stream_msg,
        RestCommand.SEND_GROUP_STREAM: streams.send_group_stream_msg,
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
