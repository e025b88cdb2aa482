"""Helpers."""
from __future__ import annotations

import csv
from collections.abc import Iterable


def parse_amount(text: str) -> int:
    """Parse ``"1,234.50"`` or ``"-12"`` into integer cents."""
    text = text.strip().replace(",", "")
    sign = -1 if text.startswith("-") else 1
    whole, _, frac = text.lstrip("+-").partition(".")
    return sign * (int(whole or "0") * 100 + int(frac.ljust(2, "0")[:2]))


def read_rows(lines: Iterable[str]) -> list[tuple[str, str, int]]:
    """Read ``date,description,amount`` CSV lines (with header) into tuples."""
    reader = csv.DictReader(lines)
    return [(r["date"], r["description"], parse_amount(r["amount"])) for r in reader]
