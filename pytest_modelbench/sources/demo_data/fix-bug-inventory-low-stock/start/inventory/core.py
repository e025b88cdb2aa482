"""Stock levels keyed by SKU."""
from __future__ import annotations

from dataclasses import dataclass, field


class OutOfStockError(ValueError):
    """Raised when removing more units than are in stock."""


@dataclass
class Inventory:
    """In-memory stock levels keyed by SKU."""

    items: dict[str, int] = field(default_factory=dict)

    def add(self, sku: str, qty: int) -> None:
        """Add *qty* units of *sku*."""
        if qty <= 0:
            raise ValueError("qty must be positive")
        self.items[sku] = self.items.get(sku, 0) + qty

    def remove(self, sku: str, qty: int) -> None:
        """Take *qty* units of *sku* out of stock."""
        if qty <= 0:
            raise ValueError("qty must be positive")
        self.items[sku] = self.items.get(sku, 0) - qty

    def low_stock(self, threshold: int = 5) -> list[str]:
        """Return SKUs whose quantity is at or below *threshold*, sorted."""
        return sorted(sku for sku, qty in self.items.items() if qty < threshold)
