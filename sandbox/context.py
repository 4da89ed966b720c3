"""What a REST command runs with (the state, the request time, who asks) and what it gives back."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from botkit.callbacks import C2CMessage, GroupMessage
from sandbox.state import SandboxState


@dataclass(frozen=True)
class CommandContext:
    """What a command runs with: the state, the request time and who asked.

    `operator` is the admin for REST calls and the user for messages sent from the sandbox UI;
    it becomes `Operator_Account` in group callbacks.
    """

    state: SandboxState
    now: float
    rng: random.Random
    operator: str

    @property
    def msg_time(self) -> int:
        return int(self.now)

    @property
    def event_time(self) -> int:
        """Callback `EventTime`: milliseconds."""
        return int(self.now * 1000)


@dataclass
class CommandResult:
    """A command's extra answer fields, and the robot callbacks it caused."""

    fields: dict[str, Any] = field(default_factory=dict)
    callbacks: list[C2CMessage | GroupMessage] = field(default_factory=list)
