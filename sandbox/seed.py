"""The accounts a fresh sandbox starts with, so there is someone to chat as and somewhere to chat."""

from __future__ import annotations

from collections.abc import Sequence

from sandbox.models import Group
from sandbox.state import SandboxState

DEMO_USER = "user1"
DEMO_GROUP = "@TGS#demo"
DEMO_GROUP_NAME = "Demo group"


def seed_demo(
    state: SandboxState, robots: Sequence[str], *, user: str = DEMO_USER, group: str = DEMO_GROUP
) -> None:
    """The robots, a user and a Public group holding both; safe to run on every start."""
    for robot in robots:
        if state.account(robot) is None:
            state.create_robot(robot)
    if state.account(user) is None:
        state.import_account(user)
    members = [user, *robots]
    if state.group(group) is None:
        state.create_group(Group(group, "Public", DEMO_GROUP_NAME, owner=user), members)
        return
    for member in members:
        state.add_member(group, member)
