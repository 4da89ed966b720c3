"""Per-user limits on model calls (a rate and a daily quota) and a cap on what the model reads.

Anyone who can message a robot spends the operator's model budget, so each user gets a steady
rate (a token bucket: a burst of `rate_per_minute`, refilled evenly over a minute) and a quota per
UTC day; a user over either gets a polite notice instead of a model call.

The counts live in this process: each replica keeps its own, so behind N replicas a user can get
up to N times the configured rate and quota, and a restart forgets them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from botkit.config import Settings

SECONDS_PER_DAY = 86400
PRUNE_AT = 10_000
"""Users tracked before those with nothing left to remember are dropped."""


@dataclass
class _Usage:
    tokens: float
    refilled_at: float
    day: int
    calls_today: int = 0


class UserLimits:
    """Admits or refuses a user's next model call; 0 switches a limit off (the default: no limits)."""

    def __init__(
        self,
        *,
        rate_per_minute: int = 0,
        daily_quota: int = 0,
        max_input_chars: int = 0,
        rate_notice: str = "Please slow down a little.",
        quota_notice: str = "That is all for today.",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._rate = rate_per_minute
        self._quota = daily_quota
        self._max_chars = max_input_chars
        self._rate_notice = rate_notice
        self._quota_notice = quota_notice
        self._clock = clock
        self._usage: dict[str, _Usage] = {}
        self._prune_at = PRUNE_AT

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Callable[[], float] = time.time) -> UserLimits:
        return cls(
            rate_per_minute=settings.user_rate_per_minute,
            daily_quota=settings.user_daily_quota,
            max_input_chars=settings.max_input_chars,
            rate_notice=settings.rate_limit_reply,
            quota_notice=settings.quota_reply,
            clock=clock,
        )

    async def admit(self, user_id: str) -> str | None:
        """None: go ahead and ask the model (counted). Else the notice to send instead."""
        if not self._rate and not self._quota:
            return None
        now = self._clock()
        usage = self._refreshed(user_id, now)
        if self._quota and usage.calls_today >= self._quota:
            return self._quota_notice
        if self._rate and usage.tokens < 1:
            return self._rate_notice
        usage.tokens -= 1
        usage.calls_today += 1
        return None

    def clip(self, text: str) -> str:
        """`text`, cut to the input cap with a note telling the model so."""
        if not self._max_chars or len(text) <= self._max_chars:
            return text
        return (
            text[: self._max_chars] + f"\n\n[The message was cut to its first {self._max_chars} characters.]"
        )

    @property
    def tracked_users(self) -> int:
        """Users whose recent calls are remembered (bounded: idle ones are pruned)."""
        return len(self._usage)

    def _refreshed(self, user_id: str, now: float) -> _Usage:
        day = int(now // SECONDS_PER_DAY)
        usage = self._usage.get(user_id)
        if usage is None:
            if len(self._usage) >= self._prune_at:
                self._prune(now)
            usage = self._usage[user_id] = _Usage(tokens=self._rate, refilled_at=now, day=day)
        if usage.day != day:
            usage.day, usage.calls_today = day, 0
        usage.tokens = min(self._rate, usage.tokens + (now - usage.refilled_at) * self._rate / 60)
        usage.refilled_at = now
        return usage

    def _prune(self, now: float) -> None:
        """Forget users whose bucket is full again and who used no quota today."""
        for user_id, usage in list(self._usage.items()):
            refilled = usage.tokens + (now - usage.refilled_at) * self._rate / 60 >= self._rate
            if refilled and (not self._quota or usage.day != int(now // SECONDS_PER_DAY)):
                del self._usage[user_id]
        self._prune_at = max(PRUNE_AT, 2 * len(self._usage))
