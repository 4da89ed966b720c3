"""A worker's hold on one journal entry: its fencing token and how long the store says it lasts.

The intake renews every held lease in one store call a few times per lease period. Before each
send the handler calls `ensure()`: if a renewal found the entry taken over, or renewals have failed
for so long that another worker could take it before a send completes, the send does not happen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from botkit.store.base import LeaseLost


@dataclass
class Lease:
    key: str
    token: int
    expires_at: float
    margin: float
    """Time a send must have left on the lease before it starts."""
    clock: Callable[[], float] = field(repr=False)
    lost: bool = False

    def ensure(self) -> None:
        """Raise `LeaseLost` unless this worker still holds the entry for at least `margin` seconds."""
        if self.lost or self.clock() > self.expires_at - self.margin:
            raise LeaseLost(self.key)
