"""Parse and format dollar amounts, stored as integer cents."""
from __future__ import annotations

import re

_AMOUNT = re.compile(r"(?P<neg>-)?\$?(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d{1,2}))?")


def parse_cents(text: str) -> int:
    """Parse ``"$1,234.5"``, ``"-3"`` or ``"(3.00)"`` into integer cents.

    Raises:
        ValueError: if *text* is not a valid amount.
    """
    s = text.strip()
    negative = s.startswith("(") and s.endswith(")")
    if negative:
        s = s[1:-1].strip()
    m = _AMOUNT.fullmatch(s)
    if m is None:
        raise ValueError(f"not a money amount: {text!r}")
    cents = int(m["whole"].replace(",", "")) * 100 + int((m["frac"] or "0").ljust(2, "0"))
    return -cents if negative or m["neg"] else cents


def format_cents(cents: int) -> str:
    """Format integer cents as ``"$1,234.50"`` / ``"-$3.00"``."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{frac:02d}"
