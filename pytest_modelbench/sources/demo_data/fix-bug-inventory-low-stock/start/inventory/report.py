"""Plain-text reports."""
from inventory.core import Inventory


def reorder_report(inv: Inventory, threshold: int = 5) -> str:
    """Return one ``SKU: qty`` line per item that needs reordering."""
    lines = [f"{sku}: {inv.items[sku]}" for sku in inv.low_stock(threshold)]
    return "\n".join(lines) if lines else "nothing to reorder"
