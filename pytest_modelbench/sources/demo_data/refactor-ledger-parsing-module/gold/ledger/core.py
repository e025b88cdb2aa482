"""Ledger summaries."""
from __future__ import annotations

from collections.abc import Iterable

from ledger.parsing import read_rows


def balance(lines: Iterable[str]) -> int:
    """Sum of all amounts, in cents."""
    return sum(amount for _, _, amount in read_rows(lines))


def by_month(lines: Iterable[str]) -> dict[str, int]:
    """Net amount per ``YYYY-MM``, in cents, in order of first appearance."""
    totals: dict[str, int] = {}
    for date, _, amount in read_rows(lines):
        totals[date[:7]] = totals.get(date[:7], 0) + amount
    return totals
