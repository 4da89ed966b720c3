"""A worker's hold on one journal entry: its fencing token and how long the store says it lasts.

The intake renews every held lease in one store call a few times per lease period. Before each
send the handler awaits `ensure()`: if a renewal found the entry taken over, the send does not
happen; if the lease is running short (renewals were late, as when the event loop is busy), it is
renewed on the spot first, so a send always starts with at least `margin` seconds of lease left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from botkit.store.base import LeaseLost, Store


@dataclass
class Lease:
    key: str
    token: int
    expires_at: float
    store: Store = field(repr=False)
    lease_seconds: float
    clock: Callable[[], float] = field(repr=False)
    lost: bool = False

    @property
    def margin(self) -> float:
        """Lease time a send must have left when it starts."""
        return self.lease_seconds / 3

    async def ensure(self) -> None:
        """Raise `LeaseLost` unless this worker holds the entry for at least `margin` more seconds."""
        now = self.clock()
        if not self.lost and now > self.expires_at - self.margin:
            lost = await self.store.renew([(self.key, self.token)], now=now, lease_seconds=self.lease_seconds)
            self.renewed(now, lost=bool(lost))
        if self.lost:
            raise LeaseLost(self.key)

    def renewed(self, now: float, *, lost: bool) -> None:
        """Take in the outcome of a renewal made at `now`."""
        if lost:
            self.lost = True
        else:
            self.expires_at = now + self.lease_seconds
