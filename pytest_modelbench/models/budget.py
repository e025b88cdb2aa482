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
        self._changed = threading.Condition(self._lock)
        self._reservations: dict[int, float] = {}
        self._ids = itertools.count(1)
        self.spent = 0.0
        self.exhausted = False
        self.refused = 0

    def reserve(self, amount: float, wait: float = 600.0) -> int | None:
        """Reserve ``amount`` dollars; return a ticket, or None (and mark the ledger exhausted) when it cannot fit.

        When it does not fit only because of calls in flight, wait (up to ``wait`` seconds) for them to settle:
        their actual cost is usually far below their reservation.
        """
        if amount < 0:
            raise ValueError("a reservation cannot be negative")
        with self._changed:
            if self.cap is not None:
                while True:
                    if self.exhausted or self.spent + amount > self.cap + 1e-12:
                        self.exhausted = True
                        self.refused += 1
                        return None
                    if self.spent + sum(self._reservations.values()) + amount <= self.cap + 1e-12:
                        break
                    if not self._changed.wait(timeout=wait):
                        self.refused += 1
                        return None
            ticket = next(self._ids)
            self._reservations[ticket] = amount
            return ticket

    def settle(self, ticket: int, actual: float | None) -> None:
        """Replace the reservation by the actual cost (None when the call failed before any spend)."""
        with self._changed:
            self._reservations.pop(ticket)
            if actual is not None:
                # The reservation bounds the actual cost (max_tokens is enforced, prompt tokens get a margin);
                # the actual cost is booked as it is, never clipped, so an accounting error would show.
                self.spent += actual
            self._changed.notify_all()

    def state(self) -> BudgetState:
        with self._lock:
            return BudgetState(self.cap, round(self.spent, 9), round(sum(self._reservations.values()), 9),
                               self.exhausted, self.refused)
