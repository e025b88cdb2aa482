"""The budget ledger's reservations, deterministically: a call in flight holds its worst case until it settles.

Two reservations that each fit under the cap but not together are never both granted while the first is unsettled:
the second is refused when it may not wait, and otherwise waits for the first to settle. The thread test below sees
the second caller park on the ledger (or return) through an event, so no result depends on how fast the machine is.
"""

from __future__ import annotations

import threading

import pytest

from pytest_modelbench.models.budget import Ledger


def test_a_reservation_that_fits_only_without_the_call_in_flight_is_refused_when_it_cannot_wait() -> None:
    ledger = Ledger(cap_usd=1.0)
    first = ledger.reserve(0.6)
    assert first is not None
    assert ledger.reserve(0.6, wait=0) is None  # 0.6 in flight + 0.6 > 1.0, though 0.0 spent + 0.6 fits
    state = ledger.state()
    assert (state.spent_usd, state.reserved_usd, state.refused) == (0.0, 0.6, 1)
    assert ledger.reserve(0.4, wait=0) is not None  # what does fit beside the call in flight is granted
    ledger.settle(first, 0.3)
    assert ledger.reserve(0.3, wait=0) is not None  # 0.3 spent + 0.4 + 0.3 in flight = the cap exactly
    assert ledger.reserve(0.01, wait=0) is None
    assert ledger.state().reserved_usd == pytest.approx(0.7)


class _WatchedCondition(threading.Condition):
    """The ledger's condition, reporting when a caller starts waiting on it."""

    def __init__(self, lock: threading.Lock, stirred: threading.Event) -> None:
        super().__init__(lock)
        self.stirred = stirred
        self.waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        self.stirred.set()
        return super().wait(timeout)


@pytest.mark.parametrize(("first_costs", "second_granted"), [(0.3, True), (0.5, False)],
                         ids=["settles-low-second-fits", "settles-high-second-refused"])
def test_a_second_reservation_waits_until_the_first_settles(first_costs: float, second_granted: bool) -> None:
    ledger = Ledger(cap_usd=1.0)
    stirred = threading.Event()  # set when the second caller either starts waiting or has its answer
    watched = _WatchedCondition(ledger._lock, stirred)
    ledger._changed = watched  # same lock, so the ledger's invariants are untouched
    first = ledger.reserve(0.6)
    assert first is not None
    answer: list[int | None] = []

    def second() -> None:
        answer.append(ledger.reserve(0.6, wait=120))
        stirred.set()

    caller = threading.Thread(target=second, daemon=True)
    caller.start()
    assert stirred.wait(timeout=60), "the second caller neither waited nor returned"
    # It is parked on the ledger, not granted: both reservations at once would hold 1.2 against a cap of 1.0.
    assert answer == [] and watched.waits >= 1
    assert ledger.state().reserved_usd == 0.6

    ledger.settle(first, first_costs)
    caller.join(timeout=60)
    assert not caller.is_alive()
    state = ledger.state()
    if second_granted:  # 0.3 spent + 0.6 reserved fits
        assert answer[0] is not None and state.reserved_usd == 0.6 and not state.exhausted
        ledger.settle(answer[0], 0.6)
        assert ledger.state().spent_usd == pytest.approx(0.9)
    else:  # 0.5 spent + 0.6 can never fit: refused, and the ledger is exhausted
        assert answer == [None] and state.reserved_usd == 0 and state.exhausted and state.refused == 1
    assert ledger.state().spent_usd <= 1.0
