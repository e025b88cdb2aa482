"""Tiny stock-keeping library."""
from inventory.core import Inventory, OutOfStockError
from inventory.report import reorder_report

__all__ = ["Inventory", "OutOfStockError", "reorder_report"]
