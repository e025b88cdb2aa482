"""The run's budget ledger: cap, reserved, spent (product.md §8). Pure and thread-safe.

Before each call the worst case is reserved; after it the reservation is settled to the actual cost. A reservation
that does not fit is refused, so spent + reserved never exceeds the cap. Once a reservation has been refused the
ledger is *exhausted*: later calls and items that have not started are cancelled without a request.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class BudgetState:
    cap_usd: float | None
    spent_usd: float
    reserved_usd: float
    exhausted: bool
    refused: int


class Ledger:
    def __init__(self, cap_usd: float | None) -> None:
        self.cap = cap_usd
        self._lock = threading.Lock()
        self._reservations: dict[int, float] = {}
        self._ids = itertools.count(1)
        self.spent = 0.0
        self.exhausted = False
        self.refused = 0

    def reserve(self, amount: float) -> int | None:
        """Reserve ``amount`` dollars; return a ticket, or None (and mark the ledger exhausted) when it does not fit."""
        if amount < 0:
            raise ValueError("a reservation cannot be negative")
        with self._lock:
            if self.cap is not None:
                if self.exhausted or self.spent + sum(self._reservations.values()) + amount > self.cap + 1e-12:
                    self.exhausted = True
                    self.refused += 1
                    return None
            ticket = next(self._ids)
            self._reservations[ticket] = amount
            return ticket

    def settle(self, ticket: int, actual: float | None) -> None:
        """Replace the reservation by the actual cost (None when the call failed before any spend)."""
        with self._lock:
            self._reservations.pop(ticket)
            if actual is not None:
                # The reservation bounds the actual cost (max_tokens is enforced, prompt tokens get a margin);
                # the actual cost is booked as it is, never clipped, so an accounting error would show.
                self.spent += actual

    def state(self) -> BudgetState:
        with self._lock:
            return BudgetState(self.cap, round(self.spent, 9), round(sum(self._reservations.values()), 9),
                               self.exhausted, self.refused)
