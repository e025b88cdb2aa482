"""Shopping cart totals."""
from __future__ import annotations

from dataclasses import dataclass, field

from shop.pricing import bulk_price, member_price


@dataclass
class Cart:
    """A cart of ``(unit_cents, quantity)`` lines."""

    lines: list[tuple[int, int]] = field(default_factory=list)
    member: bool = False

    def total(self) -> int:
        """Total in cents, with bulk and member discounts applied."""
        total = sum(bulk_price(cents, qty) for cents, qty in self.lines)
        return member_price(total) if self.member else total
