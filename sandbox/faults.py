"""Opt-in trouble, each a rate from 0 to 1: lost, repeated, slow or out-of-order callbacks, and REST
calls that fail with a real Tencent code.

Everything is off by default. The random source is passed in, so a test makes a fault certain
(rate 1.0) or replays a mix of them with a seeded `random.Random`. The old on/off inputs
`drop_callbacks` and `duplicate_callbacks` are still accepted: true is a rate of 1.0.
"""

from __future__ import annotations

import random
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from botkit.errorcodes import ErrorCode
from sandbox.errorcodes import SandboxError

Rate = Annotated[float, Field(ge=0, le=1)]

_LEGACY_SWITCHES = {"drop_callbacks": "drop_rate", "duplicate_callbacks": "duplicate_rate"}


class Faults(BaseModel):
    """What to break, per robot callback and per REST call.

    A delay counts against the callback timeout, like a slow network. A reordered callback is held
    back until the next one has been sent (or `dispatch.REORDER_WINDOW_SECONDS` passed), so it arrives late.
    """

    model_config = ConfigDict(extra="forbid")

    drop_rate: Rate = Field(0.0, description="Share of callbacks never sent (recorded as dropped).")
    duplicate_rate: Rate = Field(0.0, description="Share of callbacks sent twice.")
    delay_callbacks_seconds: float = Field(0.0, ge=0, le=60)
    delay_rate: Rate = Field(1.0, description="Share of callbacks that wait delay_callbacks_seconds.")
    reorder_rate: Rate = Field(0.0, description="Share of callbacks overtaken by the next one.")
    rest_failure_rate: Rate = Field(0.0, description="Share of REST calls that fail.")
    rest_failure_code: int = Field(
        int(ErrorCode.INTERNAL_TIMEOUT), gt=0, description="The code they fail with; 60008 is retryable."
    )

    @model_validator(mode="before")
    @classmethod
    def _switches_as_rates(cls, data: Any) -> Any:
        """`drop_callbacks: true` (the on/off input of earlier versions) is `drop_rate: 1.0`."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for switch, rate in _LEGACY_SWITCHES.items():
            if switch in data:
                on = data.pop(switch)
                if not isinstance(on, bool):
                    raise ValueError(f"{switch} is true or false (or use {rate}, from 0 to 1)")
                data.setdefault(rate, 1.0 if on else 0.0)
        return data


def happens(rate: float, rng: random.Random) -> bool:
    """True with probability `rate`; draws from `rng` only for a rate strictly between 0 and 1."""
    if rate <= 0:
        return False
    return rate >= 1 or rng.random() < rate


def rest_failure(faults: Faults, rng: random.Random) -> SandboxError | None:
    """The error this REST call should fail with, or None."""
    return SandboxError(faults.rest_failure_code) if happens(faults.rest_failure_rate, rng) else None
