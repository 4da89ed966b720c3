"""Opt-in trouble: slow, lost or repeated callbacks, and REST calls that fail with a real code.

Everything is off by default. The random source is passed in, so a test can make failures certain
(`rest_failure_rate=1.0`) or replay them with a seeded `random.Random`.
"""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field

from sandbox.errorcodes import ErrorCode, SandboxError


class Faults(BaseModel):
    """What to break. Callback delays count against the callback timeout, like a slow network."""

    model_config = ConfigDict(extra="forbid")

    delay_callbacks_seconds: float = Field(0.0, ge=0, le=60)
    drop_callbacks: bool = Field(False, description="Never send robot callbacks (recorded as dropped).")
    duplicate_callbacks: bool = Field(False, description="Send every robot callback twice.")
    rest_failure_rate: float = Field(0.0, ge=0, le=1, description="Share of REST calls that fail.")
    rest_failure_code: int = Field(
        int(ErrorCode.INTERNAL_TIMEOUT), gt=0, description="The code they fail with; 60008 is retryable."
    )


def rest_failure(faults: Faults, rng: random.Random) -> SandboxError | None:
    """The error this REST call should fail with, or None; draws from `rng` only when failures are on."""
    if faults.rest_failure_rate <= 0 or rng.random() >= faults.rest_failure_rate:
        return None
    return SandboxError(faults.rest_failure_code)
